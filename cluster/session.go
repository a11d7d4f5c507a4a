package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// Session routing errors.
var (
	// ErrSessionNotFound: no instance owns the session (it ended, expired,
	// or its owner died).
	ErrSessionNotFound = errors.New("cluster: session not found")
	// ErrSessionExists: another instance already owns the session.
	ErrSessionExists = errors.New("cluster: session owned by another instance")
	// ErrInboxFull: the owner is not taking sends fast enough.
	ErrInboxFull = errors.New("cluster: session inbox full")
	// errStateRestoring: Redis lost the session's meta hash while its
	// owner lives; the owner writes it back at its next renewal (every
	// owner TTL/3), so the caller retries (503) rather than give up (404).
	errStateRestoring = fmt.Errorf("%w: the session's state is being restored by its owner", ErrUnavailable)
)

// Inbox defaults.
const (
	defaultInboxMax = 1024 // sends waiting for the owner; every sender applies it (it cannot know an owner's own)
	inboxBatch      = 64
	// inboxPoll is the fallback pull interval should a tailer wake be
	// missed (Redis restarted between an XADD and the XREAD).
	inboxPoll = 2 * time.Second
)

// SessionRecord is what any instance can learn of a session.
type SessionRecord struct {
	// Owner is the instance holding the session's upstream connection.
	Owner string
	// Credentials is the hash the session was opened with (empty: none).
	Credentials []byte
}

// InboxOptions configure the owner side of a session.
type InboxOptions struct {
	// TTL of the ownership record (renewed every TTL/3) and of the inbox.
	// Default: the client's KeyTTL.
	TTL time.Duration
	// Credentials (a hash of the opening request's Cookie/Authorization)
	// stored so other instances can check later requests.
	Credentials []byte
	// Deliver hands one client message to the upstream, in order. Called
	// from the inbox goroutine; an error drops that message (the sender
	// already had its 204) and is logged.
	Deliver func(ctx context.Context, m msg.Message) error
}

// Inbox is the owner's side of a session: the ownership lease and the
// goroutine that forwards queued sends to the upstream.
type Inbox struct {
	c     *Client
	id    string
	keys  logKeys
	lease *Lease
	opts  InboxOptions

	// sendSeq is the highest send seq taken from the inbox (-1: none),
	// written back when Redis lost the session's meta hash. seqMu orders
	// that write with the deletion of taken sends (see restoreState).
	sendSeq atomic.Int64
	seqMu   sync.Mutex

	watch    *watch        // the tailer's watch of the inbox stream
	notify   chan struct{} // cap 1: the tailer saw new sends
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// OpenInbox makes this instance the owner of session id and starts
// forwarding its sends to opts.Deliver. Open the session's log first.
func (c *Client) OpenInbox(ctx context.Context, id string, opts InboxOptions) (*Inbox, error) {
	return c.openInbox(ctx, SessionName(id), id, opts, true, nil)
}

// OpenTopicInbox makes this instance, the holder of a topic's upstream,
// the receiver of client sends to the topic (route client_send) until
// Close or until its lease is lost (Lost); KeepTopicInbox keeps one open.
// Close drops what is queued unless the topic's next holder owns the inbox
// by then.
func (c *Client) OpenTopicInbox(ctx context.Context, name string, deliver func(context.Context, msg.Message) error) (*Inbox, error) {
	return c.openInbox(ctx, name, name, InboxOptions{TTL: defaultTopicLeaseTTL, Deliver: deliver}, false, nil)
}

// SendTopic queues client messages for the holder of a topic's upstream, in
// order; ErrSessionNotFound when no instance holds it right now.
func (c *Client) SendTopic(ctx context.Context, name string, msgs []msg.Message) error {
	_, err := c.send(ctx, name, -1, msgs)
	return err
}

// openInbox opens a session's inbox (session) or a topic's. A session's
// lease is patient (nobody else competes for it), and it records the
// session's state (restoreState), its credentials among it, empty when it
// has none, so that a record without them reads as lost (LookupSession),
// never as a session bound to nothing; its renewal writes that state back
// whenever Redis lost it. log is the session's log on its owner (nil for
// an inbox without one).
func (c *Client) openInbox(ctx context.Context, name, id string, opts InboxOptions, session bool, log *StreamLog) (*Inbox, error) {
	if opts.TTL <= 0 {
		opts.TTL = c.keyTTL
	}
	if opts.Deliver == nil {
		return nil, errors.New("cluster: inbox needs a Deliver func")
	}
	keys := c.keys(name)
	in := &Inbox{
		c: c, id: id, keys: keys, opts: opts,
		notify: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	in.sendSeq.Store(-1)
	var state *leaseState
	if session {
		state = &leaseState{key: keys.meta, field: "creds", counter: "sendseq", floor: in.sendSeq.Load,
			restore: func(ctx context.Context) error { return in.restoreState(ctx, log) }}
	}
	lease, err := c.tryLease(ctx, keys.owner, name, opts.TTL, state)
	if errors.Is(err, ErrLeaseHeld) {
		return nil, ErrSessionExists
	}
	if err != nil {
		return nil, err
	}
	if state != nil {
		octx, cancel := c.opContext(ctx)
		err := state.restore(octx)
		cancel()
		if err != nil {
			lease.Release()
			return nil, fmt.Errorf("cluster: open inbox: %w", c.fail(err))
		}
	}
	in.lease = lease
	in.watch = c.tail.add(keys.inbox, "0-0", func([]redis.XMessage) { in.poke() })
	c.wg.Add(1)
	go in.run()
	return in, nil
}

// restoreState writes the session's state this owner keeps into its meta
// hash (sessionStateScript): its binding, the highest send seq it took, and
// with its log the epoch and the stream's position. seqMu is held until
// the script ran, so sends the owner took after sendSeq was read are still
// in the inbox for the script to count (drain deletes them under seqMu).
func (in *Inbox) restoreState(ctx context.Context, log *StreamLog) error {
	in.seqMu.Lock()
	defer in.seqMu.Unlock()
	c := in.c
	ttl := max(in.opts.TTL, c.keyTTL)
	epoch, last, capacity, logTTL := "", uint64(0), 0, int64(0)
	if log != nil {
		epoch, capacity, logTTL = log.epoch, log.capacity, log.ttl.Milliseconds()
		last = log.position()
		ttl = max(ttl, log.ttl)
	}
	return sessionStateScript.Run(ctx, c.rdb, []string{in.keys.meta, in.keys.log, in.keys.inbox},
		in.opts.Credentials, epoch, in.sendSeq.Load(), last, capacity, ttl.Milliseconds(), logTTL, defaultInboxMax).Err()
}

// Lost is closed when this instance no longer owns the session (see
// Lease.Lost); the owner should then end the session.
func (in *Inbox) Lost() <-chan struct{} { return in.lease.Lost() }

// Close stops forwarding, gives up ownership and drops unsent messages,
// unless another instance owns the inbox by now (a topic's next holder):
// then what was queued is its to deliver. Idempotent.
func (in *Inbox) Close() {
	in.stopOnce.Do(func() { close(in.stop) })
	<-in.done
	in.c.tail.remove(in.watch)
	in.lease.releaseWith(in.keys.inbox)
}

func (in *Inbox) poke() {
	select {
	case in.notify <- struct{}{}:
	default:
	}
}

func (in *Inbox) run() {
	defer in.c.wg.Done()
	defer close(in.done)
	ctx, cancel := context.WithCancel(in.c.ctx)
	defer cancel()
	go func() {
		select {
		case <-in.stop:
		case <-in.lease.Lost():
		case <-ctx.Done():
		}
		cancel()
	}()
	lastID := "0-0"
	poll := time.NewTicker(inboxPoll)
	defer poll.Stop()
	for {
		full, err := in.drain(ctx, &lastID)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !in.c.sleep(100 * time.Millisecond) {
				return
			}
			continue
		}
		if full {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-in.notify:
		case <-poll.C:
		}
	}
}

// drain forwards one batch of queued sends; full when there may be more.
func (in *Inbox) drain(ctx context.Context, lastID *string) (bool, error) {
	octx, cancel := in.c.opContext(ctx)
	msgs, err := in.c.rdb.XRangeN(octx, in.keys.inbox, "("+*lastID, "+", inboxBatch).Result()
	cancel()
	if err != nil {
		return false, in.c.fail(err)
	}
	if len(msgs) == 0 {
		return false, nil
	}
	ids := make([]string, 0, len(msgs))
	for _, xm := range msgs {
		if q, err := strconv.ParseInt(str(xm.Values, "q"), 10, 64); err == nil && q > in.sendSeq.Load() {
			in.sendSeq.Store(q) // taken: written back should Redis lose it
		}
		m := msg.Message{Data: []byte(str(xm.Values, "d")), Binary: str(xm.Values, "b") == "1"}
		if err := in.opts.Deliver(ctx, m); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			in.c.log.Debug("session send not delivered", zap.String("session", in.id[:min(8, len(in.id))]), zap.Error(err))
		}
		*lastID = xm.ID
		ids = append(ids, xm.ID)
	}
	// Delivered sends leave the inbox (its bound counts only waiting ones).
	in.seqMu.Lock()
	octx, cancel = in.c.opContext(ctx)
	_ = in.c.rdb.XDel(octx, in.keys.inbox, ids...).Err()
	cancel()
	in.seqMu.Unlock()
	return len(msgs) == inboxBatch, nil
}

// Send queues client messages for the session's owner, in order. A seq >= 0
// makes it idempotent: a seq at or below the last accepted one is
// acknowledged (queued false) without sending again. Any instance may call
// it; only the owner delivers.
func (c *Client) Send(ctx context.Context, sessionID string, seq int64, msgs []msg.Message) (queued bool, err error) {
	return c.send(ctx, SessionName(sessionID), seq, msgs)
}

func (c *Client) send(ctx context.Context, name string, seq int64, msgs []msg.Message) (queued bool, err error) {
	keys := c.keys(name)
	args := make([]any, 0, 3+2*len(msgs))
	args = append(args, seq, defaultInboxMax, c.keyTTL.Milliseconds())
	for _, m := range msgs {
		b := "0"
		if m.Binary {
			b = "1"
		}
		args = append(args, b, m.Data)
	}
	octx, cancel := c.opContext(ctx)
	defer cancel()
	n, err := sendScript.Run(octx, c.rdb, []string{keys.owner, keys.meta, keys.inbox}, args...).Int()
	switch {
	case err == nil:
		c.up()
		return n == 1, nil
	case scriptAnswer(err, answerNoSession):
		return false, ErrSessionNotFound
	case scriptAnswer(err, answerFull):
		return false, ErrInboxFull
	case scriptAnswer(err, answerLost):
		return false, errStateRestoring
	default:
		return false, fmt.Errorf("cluster: send: %w", c.fail(err))
	}
}

// LookupSession tells any instance who owns a session (Owner is empty once
// its owner let it go: its log may still be read) and which credentials it
// is bound to. ErrSessionNotFound when Redis has no record of its
// credentials (never opened, expired, or lost with Redis's data): without
// it nobody can tell whom the session belongs to, so it is not served.
// While an owner is recorded the record is only missing until the owner
// writes it back: ErrUnavailable then.
func (c *Client) LookupSession(ctx context.Context, id string) (SessionRecord, error) {
	keys := c.keys(SessionName(id))
	octx, cancel := c.opContext(ctx)
	defer cancel()
	pipe := c.rdb.Pipeline()
	owner := pipe.Get(octx, keys.owner)
	creds := pipe.HGet(octx, keys.meta, "creds")
	if _, err := pipe.Exec(octx); err != nil && !errors.Is(err, redis.Nil) {
		return SessionRecord{}, fmt.Errorf("cluster: lookup session: %w", c.fail(err))
	}
	c.up()
	if errors.Is(creds.Err(), redis.Nil) {
		if owner.Val() != "" {
			return SessionRecord{}, errStateRestoring
		}
		return SessionRecord{}, ErrSessionNotFound
	}
	return SessionRecord{Owner: owner.Val(), Credentials: []byte(creds.Val())}, nil
}
