package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ErrLeaseHeld is returned when another instance holds the lease.
var ErrLeaseHeld = errors.New("cluster: lease held by another instance")

// minLeaseTTL keeps renewals (every ttl/3) from hammering Redis.
const minLeaseTTL = 300 * time.Millisecond

// Lease is this instance's exclusive hold on a name: a topic's upstream
// (TryLease) or a session's upstream (OpenInbox). It is renewed every ttl/3
// by a compare-and-pexpire script; when renewal says another instance holds
// it, or no renewal sent in the last 2/3 of the ttl was confirmed (so it
// may expire ttl/3 later), Lost is closed, even while a renewal still
// hangs, and the holder must stop its upstream.
type Lease struct {
	c    *Client
	key  string
	name string
	ttl  time.Duration
	// state is what goes with the lease in Redis (a session's meta hash),
	// written back when renewal finds it gone; nil for none.
	state *leaseState

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// patient: a lease with state (session ownership) is never given up for
// lack of confirmation: nobody else competes for a session, and its
// upstream connection is still here.
func (l *Lease) patient() bool { return l.state != nil }

// leaseState is what goes with a lease in Redis (a session's meta hash):
// renewal checks that key still has field, and when it does not, or when
// the lease itself had to be taken again (Redis restarted empty), restore
// writes it back from this instance's memory. While it is there, renewal
// raises its counter field to floor() should it be lower (Redis brought
// back an older copy of the hash).
type leaseState struct {
	key, field string
	counter    string
	floor      func() int64
	restore    func(context.Context) error
}

// TryLease takes the named lease (see TopicName) if nobody holds it.
func (c *Client) TryLease(ctx context.Context, name string, ttl time.Duration) (*Lease, error) {
	return c.tryLease(ctx, c.keys(name).lease, name, ttl, nil)
}

// WaitLease takes the named lease, retrying every ttl/3 while another
// instance holds it or Redis is unavailable, until ctx ends.
func (c *Client) WaitLease(ctx context.Context, name string, ttl time.Duration) (*Lease, error) {
	ttl = max(ttl, minLeaseTTL)
	for {
		l, err := c.TryLease(ctx, name, ttl)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrLeaseHeld) && !errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		t := time.NewTimer(ttl / 3)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-c.ctx.Done():
			t.Stop()
			return nil, ErrClosed
		}
	}
}

// LeaseHolder returns the instance holding the named lease, "" for none.
func (c *Client) LeaseHolder(ctx context.Context, name string) (string, error) {
	return c.holder(ctx, c.keys(name).lease)
}

func (c *Client) holder(ctx context.Context, key string) (string, error) {
	ctx, cancel := c.opContext(ctx)
	defer cancel()
	v, err := c.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cluster: lease holder: %w", c.fail(err))
	}
	return v, nil
}

func (c *Client) tryLease(ctx context.Context, key, name string, ttl time.Duration, state *leaseState) (*Lease, error) {
	ttl = max(ttl, minLeaseTTL)
	octx, cancel := c.opContext(ctx)
	defer cancel()
	sent := time.Now()
	ok, err := c.rdb.SetNX(octx, key, c.id, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: lease %s: %w", name, c.fail(err))
	}
	if !ok {
		return nil, ErrLeaseHeld
	}
	l := &Lease{
		c: c, key: key, name: name, ttl: ttl, state: state,
		lost: make(chan struct{}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	c.wg.Add(1)
	go l.renew(sent)
	return l, nil
}

// Name is the leased name.
func (l *Lease) Name() string { return l.name }

// Lost is closed when the lease is no longer held: taken by another
// instance, unconfirmed for too long, released, or the client closed.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Release stops renewing and deletes the lease if this instance still
// holds it, so another instance can take it at once. Idempotent.
func (l *Lease) Release() { l.releaseWith() }

// releaseWith is Release that also deletes keys (in the lease's hash
// slot) that go with the lease, only if this instance still held it: what
// belongs to the next holder stays.
func (l *Lease) releaseWith(keys ...string) {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	ctx, cancel := l.c.opContext(nil)
	defer cancel()
	if err := releaseScript.Run(ctx, l.c.rdb, append([]string{l.key}, keys...), l.c.id).Err(); err != nil && !errors.Is(err, redis.Nil) {
		l.c.log.Debug("lease release failed; it will expire", zap.String("lease", l.name), zap.Error(err))
	}
}

func (l *Lease) markLost() { l.lostOnce.Do(func() { close(l.lost) }) }

// renew extends the lease every ttl/3. Runs until stop, loss or Close.
//
// A lease that is not patient has a local fence: the key was last
// extended no earlier than confirmed, when the renewal that extended it
// was sent, so it may expire at confirmed + ttl and be taken by another
// instance. The lease is given up at fenceAt(confirmed), ttl/3 before
// that, whatever a renewal still on its way will answer: a renewal that
// hangs (a stalled connection, a Redis busy with a slow command) is cut
// there, and the fence timer fires even between renewals.
func (l *Lease) renew(confirmed time.Time) {
	defer l.c.wg.Done()
	defer close(l.done)
	defer l.markLost()
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	var fence <-chan time.Time
	var fenceTimer *time.Timer
	if !l.patient() {
		fenceTimer = time.NewTimer(time.Until(l.fenceAt(confirmed)))
		defer fenceTimer.Stop()
		fence = fenceTimer.C
	}
	giveUp := func(err error) {
		l.c.log.Warn("lease not confirmed in time; giving it up", zap.String("lease", l.name), zap.Error(err))
	}
	keys := []string{l.key}
	if l.state != nil {
		keys = append(keys, l.state.key)
	}
	for {
		select {
		case <-l.stop:
			return
		case <-l.c.ctx.Done():
			return
		case <-fence:
			giveUp(nil)
			return
		case <-tick.C:
		case <-l.c.recoveries():
		}
		sent := time.Now()
		held, err := l.renewOnce(keys, confirmed)
		switch {
		case err == nil && held >= 1:
			confirmed = sent
			if fenceTimer != nil {
				fenceTimer.Reset(time.Until(l.fenceAt(confirmed)))
			}
			l.c.up()
			if held >= renewedStateLost && l.state != nil {
				// Retried at the next renewal when it fails: the state is
				// still missing then.
				ctx, cancel := l.c.opContext(nil)
				if err := l.state.restore(ctx); err != nil {
					l.c.log.Warn("what goes with the lease is lost and was not restored", zap.String("lease", l.name), zap.Error(l.c.fail(err)))
				} else {
					l.c.log.Info("what goes with the lease was lost; restored", zap.String("lease", l.name))
				}
				cancel()
			}
		case err == nil:
			l.c.log.Info("lease taken by another instance", zap.String("lease", l.name))
			return
		default:
			_ = l.c.fail(err)
			if !l.patient() && !time.Now().Before(l.fenceAt(confirmed)) {
				giveUp(err)
				return
			}
		}
	}
}

// fenceAt is when a lease last confirmed by a renewal sent at confirmed is
// given up here: ttl/3 before it can expire in Redis.
func (l *Lease) fenceAt(confirmed time.Time) time.Time { return confirmed.Add(l.ttl * 2 / 3) }

// renewOnce runs the renewal script, within the round trip timeout and,
// for a lease with a fence, not past it.
func (l *Lease) renewOnce(keys []string, confirmed time.Time) (held int, err error) {
	ctx, cancel := l.c.opContext(nil)
	defer cancel()
	if !l.patient() {
		var cancelFence context.CancelFunc
		ctx, cancelFence = context.WithDeadline(ctx, l.fenceAt(confirmed))
		defer cancelFence()
	}
	args := []any{l.c.id, l.ttl.Milliseconds()}
	if l.state != nil {
		args = append(args, l.state.field, l.state.counter, l.state.floor())
	}
	return renewScript.Run(ctx, l.c.rdb, keys, args...).Int()
}
