package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// Log errors.
var (
	// ErrLogClosed is returned when appending to a closed log.
	ErrLogClosed = errors.New("cluster: log closed")
	// ErrLogNotFound is returned by OpenLog with Existing for a log that
	// is not in Redis (never made, expired, or lost).
	ErrLogNotFound = errors.New("cluster: log not found")
)

// minLogTTL keeps a log's keys alive across a few housekeeping ticks.
const minLogTTL = 3 * time.Second

// LogOptions configure one log.
type LogOptions struct {
	// Capacity is the number of entries kept (route buffer): the stream's
	// exact MAXLEN and the size of each instance's mirror. Minimum 1.
	Capacity int
	// TTL is how long the keys live after the last append or touch; every
	// instance that has the log open touches it. Default Client KeyTTL,
	// minimum 3s.
	TTL time.Duration
	// Epoch is proposed for a new log (a session id); default random.
	Epoch string
	// Fresh starts a new incarnation (new epoch, empty stream) when the
	// stored log is closed: a topic reopened after it ended.
	Fresh bool
	// Existing opens only a log that exists (an instance serving a session
	// it does not own must not create one for an unknown id).
	Existing bool
	// MaxBytes bounds the payload bytes this instance's mirror keeps (like
	// msglog.Options.MaxBytes); 0: only Capacity. Redis bounds by count.
	MaxBytes int64
	// OnEvict is called (under the mirror's lock, keep it cheap) with the
	// number of message entries that left this instance's mirror.
	OnEvict func(n int)
}

// StreamLog is a log kept in a Redis Stream and mirrored on this instance.
// Appends go to Redis (one round trip each); reads are served from the
// mirror, which the instance's tailer keeps up to date, so every entry is
// decoded and encoded once per instance however many clients read it.
//
// Any instance may append; the cluster keeps one appender per log (the
// topic lease holder, the session owner).
type StreamLog struct {
	c        *Client
	name     string
	keys     logKeys
	capacity int
	maxBytes int64
	ttl      time.Duration
	onEvict  func(int)
	epoch    string

	refs int // under c.mu

	// Appends wait in a bounded queue that one flusher goroutine at a
	// time stores, many entries per round trip (appendq.go).
	qmu      sync.Mutex
	qspace   *sync.Cond // signalled when the queue shrinks
	queue    []*pendingAppend
	flushing bool
	// Flusher state (one flusher at a time).
	lastSeq    uint64 // last seq this instance appended; written under mu
	pendingGap string // reason of messages lost while Redis failed

	mu         sync.Mutex
	entries    []*msglog.Entry // ascending seq, at most capacity
	bytes      int64           // payload bytes of entries
	next       uint64          // 1 + highest seq seen
	closed     bool
	info       msg.CloseInfo
	wake       chan struct{}
	done       chan struct{} // closed with the log
	upstreamID string
	detached   bool   // not followed (not yet registered, closed, released)
	watch      *watch // the tailer's watch while followed
}

// OpenLog opens the named log (see TopicName, SessionName), creating it in
// Redis when absent, and mirrors it on this instance until Release. An
// instance holds one mirror per name: opening it again returns the same
// StreamLog (Release each open).
func (c *Client) OpenLog(ctx context.Context, name string, opts LogOptions) (*StreamLog, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if l := c.logs[name]; l != nil && !(opts.Fresh && l.isClosed()) {
		l.refs++
		c.mu.Unlock()
		return l, nil
	}
	c.mu.Unlock()

	l, lastID, err := c.loadLog(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if cur := c.logs[name]; cur != nil && !(opts.Fresh && cur.isClosed()) && cur.epoch == l.epoch {
		cur.refs++ // opened concurrently: keep the first
		c.mu.Unlock()
		return cur, nil
	}
	old := c.logs[name]
	l.refs = 1
	c.logs[name] = l
	c.mu.Unlock()
	if old != nil {
		old.detach() // an ended incarnation; its readers keep what they have
	}
	// Follow the stream unless it closed meanwhile; under l.mu so that a
	// concurrent close (detach) sees the watch.
	l.mu.Lock()
	if !l.closed {
		l.detached = false
		l.watch = c.tail.register(l.keys.log, lastID, l.ingest)
	}
	l.mu.Unlock()
	c.tail.wake()
	return l, nil
}

// loadLog runs the open script and loads the retained entries.
func (c *Client) loadLog(ctx context.Context, name string, opts LogOptions) (*StreamLog, string, error) {
	if opts.Capacity < 1 {
		opts.Capacity = 1
	}
	if opts.TTL <= 0 {
		opts.TTL = c.keyTTL
	}
	opts.TTL = max(opts.TTL, minLogTTL)
	if opts.Epoch == "" {
		opts.Epoch = randomID(8)
	}
	l := &StreamLog{
		c:        c,
		name:     name,
		keys:     c.keys(name),
		capacity: opts.Capacity,
		maxBytes: opts.MaxBytes,
		ttl:      opts.TTL,
		onEvict:  opts.OnEvict,
		next:     1,
		wake:     make(chan struct{}),
		done:     make(chan struct{}),
		detached: true, // until OpenLog registers it with the tailer
	}
	l.qspace = sync.NewCond(&l.qmu)
	octx, cancel := c.opContext(ctx)
	defer cancel()
	res, err := openScript.Run(octx, c.rdb, []string{l.keys.meta, l.keys.log},
		opts.Epoch, opts.TTL.Milliseconds(), flag(opts.Fresh), flag(opts.Existing)).StringSlice()
	if scriptAnswer(err, answerNotFound) {
		return nil, "", ErrLogNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("cluster: open log: %w", c.fail(err))
	}
	l.epoch = res[0]
	pipe := c.rdb.Pipeline()
	rev := pipe.XRevRangeN(octx, l.keys.log, "+", "-", int64(opts.Capacity))
	up := pipe.HGet(octx, l.keys.meta, "up")
	if _, err := pipe.Exec(octx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", fmt.Errorf("cluster: load log: %w", c.fail(err))
	}
	c.up()
	l.upstreamID = up.Val()
	msgs := rev.Val()
	lastID := "0-0"
	if len(msgs) > 0 {
		lastID = msgs[0].ID
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
		if seq, ok := parseSeq(msgs[0].ID); ok {
			l.next = seq // the first retained entry starts the mirror: no hole
		}
		l.ingest(msgs)
	}
	if !l.isClosed() && res[1] != "" {
		// Closed in meta but the marker was trimmed or lost.
		code, _ := strconv.Atoi(res[1])
		l.closeLocal(msg.CloseInfo{Code: code, Reason: res[2]})
	}
	return l, lastID, nil
}

// Release ends this open of the log; after the last one the instance stops
// following it. Readers keep what they hold.
func (l *StreamLog) Release() {
	c := l.c
	c.mu.Lock()
	l.refs--
	last := l.refs <= 0
	if last && c.logs[l.name] == l {
		delete(c.logs, l.name)
	}
	c.mu.Unlock()
	if last {
		l.detach()
	}
}

// detach stops following the stream.
func (l *StreamLog) detach() {
	l.mu.Lock()
	was, w := l.detached, l.watch
	l.detached = true
	l.mu.Unlock()
	if !was {
		l.c.tail.remove(w)
	}
}

// Name is the log's name.
func (l *StreamLog) Name() string { return l.name }

// Epoch returns the epoch used in this log's cursors (shared by every
// instance).
func (l *StreamLog) Epoch() string { return l.epoch }

// CursorAt formats the cursor of position seq.
func (l *StreamLog) CursorAt(seq uint64) string { return string(wire.AppendCursor(nil, l.epoch, seq)) }

// UpstreamID is the last upstream SSE id known when the log was opened or
// appended here (FetchUpstreamID asks Redis for the newest).
func (l *StreamLog) UpstreamID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.upstreamID
}

// position is the last seq this instance knows the log to have: appended
// here or seen in the stream.
func (l *StreamLog) position() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(l.lastSeq, l.next-1)
}

// FetchUpstreamID reads the last upstream SSE id stored with the log, for a
// new topic holder resuming an SSE upstream with Last-Event-ID.
func (l *StreamLog) FetchUpstreamID(ctx context.Context) (string, error) {
	ctx, cancel := l.c.opContext(ctx)
	defer cancel()
	v, err := l.c.rdb.HGet(ctx, l.keys.meta, "up").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cluster: upstream id: %w", l.c.fail(err))
	}
	return v, nil
}

// Append adds a message (msg.Sink) without waiting for Redis: it is queued
// and stored in order with others, many per round trip; a full queue holds
// the caller back. When Redis fails the message is lost for everyone and
// the next stored entry is preceded by a gap, so clients are told;
// AppendContext waits and reports the outcome.
func (l *StreamLog) Append(m msg.Message) { _ = l.enqueue(nil, l.messageAppend(m)) }

// Gap records that the upstream lost messages (msg.Sink), like Append.
func (l *StreamLog) Gap(reason string) { _ = l.enqueue(nil, l.gapAppend(reason)) }

// AppendContext adds a message and waits until it is stored (or failed).
func (l *StreamLog) AppendContext(ctx context.Context, m msg.Message) error {
	return l.enqueue(ctx, l.messageAppend(m))
}

// GapContext records an upstream gap and waits until it is stored.
func (l *StreamLog) GapContext(ctx context.Context, reason string) error {
	return l.enqueue(ctx, l.gapAppend(reason))
}

func (l *StreamLog) messageAppend(m msg.Message) *pendingAppend {
	fields := make([]any, 0, 8)
	fields = append(fields, "k", "m", "d", m.Data)
	if m.Event != "" && m.Event != "message" {
		fields = append(fields, "e", m.Event)
	}
	if m.Binary {
		fields = append(fields, "b", "1")
	}
	return &pendingAppend{fields: fields, upstreamID: m.UpstreamID, mk: func(seq uint64) *msglog.Entry {
		return l.newEntry(seq, msglog.KindMessage, m, "")
	}}
}

func (l *StreamLog) gapAppend(reason string) *pendingAppend {
	return &pendingAppend{fields: []any{"k", "g", "r", reason}, mk: func(seq uint64) *msglog.Entry {
		return l.newEntry(seq, msglog.KindGap, msg.Message{}, reason)
	}}
}

// Close ends the log for every instance: a close marker goes into the
// stream, and this instance's readers see the end once Close returns,
// after every entry stored before the marker (readToEnd), or at once when
// Redis is down (other instances then learn it only when the keys expire,
// see docs/cluster.md). Idempotent; the first info wins. An instance that
// only stops serving (shutdown, last local reader gone) uses CloseLocal.
func (l *StreamLog) Close(info msg.CloseInfo) {
	if closed, _ := l.Closed(); !closed {
		// Queued behind every earlier append, so readers get the end last.
		err := l.enqueue(l.c.ctx, &pendingAppend{fields: []any{"k", "c", "code", strconv.Itoa(info.Code), "r", info.Reason}})
		switch {
		case err == nil:
			l.readToEnd()
		case !errors.Is(err, ErrLogClosed):
			l.c.log.Warn("close marker not stored", zap.String("log", l.name), zap.Error(err))
		}
	}
	l.closeLocal(info) // when the marker did not come: Redis failed
}

// readToEnd brings the mirror up to the close marker just stored: entries
// before it that the tailer has not brought yet (another instance
// appended them a moment ago) would be lost to this instance's readers
// once it is closed, the marker last. Usually the mirror is current and
// one XRANGE after it brings the marker alone; a mirror further behind
// than the log holds takes the newest capacity entries of this epoch
// instead (one XREVRANGE), a hole before them being a gap, as anywhere.
func (l *StreamLog) readToEnd() {
	ctx, cancel := l.c.opContext(nil)
	defer cancel()
	l.mu.Lock()
	last := l.next - 1
	l.mu.Unlock()
	msgs, err := l.c.rdb.XRangeN(ctx, l.keys.log, "(0-"+strconv.FormatUint(last, 10), "+", int64(l.capacity)).Result()
	if err == nil && len(msgs) == l.capacity {
		msgs, err = l.c.rdb.XRevRangeN(ctx, l.keys.log, "+", "-", int64(l.capacity)).Result()
		slices.Reverse(msgs)
	}
	if err != nil {
		_ = l.c.fail(err)
		return
	}
	l.c.up()
	// Only this incarnation's (a fresh one may follow).
	msgs = slices.DeleteFunc(msgs, func(xm redis.XMessage) bool { return str(xm.Values, "p") != l.epoch })
	l.ingest(msgs)
}

// CloseLocal ends the log for this instance's readers only.
func (l *StreamLog) CloseLocal(info msg.CloseInfo) { l.closeLocal(info) }

// CatchUp makes sure the mirror holds position seq, reading straight from
// Redis when the tailer has not brought it yet: a cursor handed out by
// another instance may be a few entries ahead of this instance's mirror.
// Call it before msglog.ResumeReader with a client's cursor. It returns
// msglog.ErrCursorAhead when the log really has no such position.
func (l *StreamLog) CatchUp(ctx context.Context, seq uint64) error {
	l.mu.Lock()
	last, closed := l.next-1, l.closed
	l.mu.Unlock()
	if seq <= last {
		return nil
	}
	if closed {
		return msglog.ErrCursorAhead
	}
	octx, cancel := l.c.opContext(ctx)
	defer cancel()
	// Everything newer, not just up to seq: the mirror is then current.
	msgs, err := l.c.rdb.XRangeN(octx, l.keys.log, "(0-"+strconv.FormatUint(last, 10),
		"+", int64(l.capacity)).Result()
	if err != nil {
		return fmt.Errorf("cluster: catch up: %w", l.c.fail(err))
	}
	l.c.up()
	l.ingest(msgs)
	if _, last := l.Bounds(); seq > last {
		return msglog.ErrCursorAhead
	}
	return nil
}
