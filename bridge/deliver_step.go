package bridge

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
)

const (
	// writeWait bounds one write to a client; a client that does not read
	// for this long is dropped (it resumes from its cursor).
	writeWait = 10 * time.Second
	// batchSize is how many log entries a streaming transport takes per read.
	batchSize = 64
)

// slowClientWait is how long a session's upstream is held back (flow
// control) for a client that does not take its messages before the oldest
// are dropped (slow_client: drop_oldest → gap; disconnect → closed). A var
// so tests can shorten it.
var slowClientWait = writeWait

// deliveryPolicy is what the delivery loops take from their route, passed
// in rather than reached through the RouteHandler: the live settings
// (heartbeat, slow_client, as a reload sets them), the shutdown signal and
// the wait group that owns every goroutine a loop starts.
type deliveryPolicy struct {
	live     *atomic.Pointer[settings]
	shutdown <-chan struct{}
	runs     *sync.WaitGroup
	// beat, when set, is the heartbeat the connection started with: a
	// WebSocket's read deadline (2 beats + closeGrace) was set from it, so
	// a reload must not stretch its pings past that deadline.
	beat time.Duration
}

func (h *RouteHandler) policy() deliveryPolicy {
	return deliveryPolicy{live: &h.live, shutdown: h.shutdown, runs: &h.runs}
}

func (p *deliveryPolicy) heartbeat() time.Duration {
	if p.beat > 0 {
		return p.beat
	}
	return p.live.Load().heartbeat
}

// beatTicker ticks at the policy's heartbeat and follows a reload that
// changes it: retune, called at each wake of its loop, resets it then.
type beatTicker struct {
	*time.Ticker
	pol    *deliveryPolicy
	period time.Duration
}

func newBeatTicker(pol *deliveryPolicy) beatTicker {
	period := pol.heartbeat()
	return beatTicker{Ticker: time.NewTicker(period), pol: pol, period: period}
}

func (b *beatTicker) retune() {
	if p := b.pol.heartbeat(); p != b.period {
		b.period = p
		b.Reset(p)
	}
}

// slowDisconnect: slow_client is disconnect (else a gap, drop_oldest).
func (p *deliveryPolicy) slowDisconnect() bool { return p.live.Load().slowDisconnect }

// pump copies the attachment's log to w on this goroutine until the log
// closes, the client goes, the route shuts down or a write fails.
func (h *RouteHandler) pump(ctx context.Context, a *attachment, w streamWriter) {
	pumpLoop(ctx, h.policy(), a, w)
}

// pumpBeating is pump with the heartbeat fixed at beat (deliveryPolicy.beat).
func (h *RouteHandler) pumpBeating(ctx context.Context, a *attachment, w streamWriter, beat time.Duration) {
	pol := h.policy()
	pol.beat = beat
	pumpLoop(ctx, pol, a, w)
}

func pumpLoop(ctx context.Context, pol deliveryPolicy, a *attachment, w streamWriter) {
	heartbeat := newBeatTicker(&pol)
	defer heartbeat.Stop()
	rd := stepRound{policy: pol}
	for {
		wait, done, err := pumpStep(ctx, a, w, &rd)
		if done || err != nil {
			return
		}
		heartbeat.retune()
		select {
		case <-wait:
		case <-heartbeat.C:
			if w.heartbeat() != nil || w.flush() != nil {
				return
			}
		case <-ctx.Done():
			return
		case <-pol.shutdown:
			_ = w.goingAway()
			_ = w.flush()
			return
		}
	}
}

// pumpStep writes everything the reader has (a burst goes out in one
// flush) and returns the channel closed at the log's next change (nil for
// rd.wait, in the fan-out), or done
// when the connection is finished (log closed and said so, slow client
// disconnected, write failed, shutdown). It never blocks waiting for the
// log: pumpLoop waits, the session's kicks (deliver_kick.go) and the
// shared fan-out (deliver_fanout.go) call it when the log moved. The
// fan-out passes its round (rd.wait) so that per-subscriber work stays
// small: one log read instead of two, delivery counts added once per round.
func pumpStep(ctx context.Context, a *attachment, w streamWriter, rd *stepRound) (wait <-chan struct{}, done bool, err error) {
	unflushed := false
	for {
		res := a.rd.Next(batchSize)
		wrote := false
		if g := res.Gap; g != nil {
			if g.Overrun && rd.policy.slowDisconnect() {
				a.slowDisconnect()
				_ = w.close(msg.CloseInfo{Code: closeSlowClient, Reason: "slow client"})
				_ = w.flush()
				return nil, true, nil
			}
			a.tm.gaps.Inc()
			if err := w.gap(g); err != nil {
				return nil, false, err
			}
			wrote = true
		}
		msgs, bytes := 0, 0
		for _, e := range res.Entries {
			n, err := w.entry(e)
			if err != nil {
				rd.countOut(a, msgs, bytes)
				return nil, false, err
			}
			if e.Kind == msglog.KindGap {
				a.tm.gaps.Inc()
			} else {
				msgs++
				bytes += n
			}
			wrote = true
		}
		rd.countOut(a, msgs, bytes)
		if res.Closed {
			_ = w.close(res.Info)
			_ = w.flush()
			return nil, true, nil
		}
		if wrote {
			// Read again before flushing: a burst goes out in few writes.
			unflushed = true
			select {
			case <-ctx.Done():
				return nil, true, nil
			case <-rd.policy.shutdown:
				_ = w.goingAway()
				_ = w.flush()
				return nil, true, nil
			default:
			}
			// A short batch read everything the log had after the round's
			// wait channel was taken: no second read, that channel tells
			// of anything newer (returned as nil: the caller has it, and
			// returning it would move rd to the heap).
			if rd.wait == nil || len(res.Entries) >= batchSize {
				continue
			}
			res.Wait = nil
		}
		if unflushed {
			if err := w.flush(); err != nil {
				return nil, false, err
			}
			if a.sess != nil {
				// Flow control: a session's log holds its upstream back
				// until acked; a topic's log waits for nobody.
				a.log().Ack(a.rd.Pos())
			}
		}
		return res.Wait, false, nil
	}
}

// stepRound is what the steps of one caller share: its policy, and in the
// fan-out what one round shares between its subscribers.
type stepRound struct {
	policy deliveryPolicy
	// wait was taken from the log before the fan-out round's first read:
	// closed at any change after it. nil when the log is closed, and
	// outside the fan-out.
	wait <-chan struct{}
	// tally sums a topic's deliveries over a fan-out round (the fan-out
	// flushes it); nil elsewhere: counted at once. A pointer, so that the
	// steps of a session's kicks keep a small frame on its upstream
	// reader's stack.
	tally *outTally
}

// countOut records delivered messages: in the round's tally, or at once
// (a session's with its own totals).
func (rd *stepRound) countOut(a *attachment, msgs, bytes int) {
	if a.sess != nil || rd.tally == nil {
		a.countOut(msgs, bytes)
		return
	}
	rd.tally.add(a.tm, msgs, bytes)
}

// outTally sums delivered messages per transport over a round, so the
// metrics take a few atomic adds per round instead of per subscriber.
type outTally struct {
	n    int
	rows [4]struct {
		tm          *transportMetrics
		msgs, bytes int
	}
}

func (t *outTally) add(tm *transportMetrics, msgs, bytes int) {
	if msgs == 0 {
		return
	}
	for i := 0; i < t.n; i++ {
		if t.rows[i].tm == tm {
			t.rows[i].msgs += msgs
			t.rows[i].bytes += bytes
			return
		}
	}
	if t.n == len(t.rows) {
		t.flush()
	}
	t.rows[t.n].tm, t.rows[t.n].msgs, t.rows[t.n].bytes = tm, msgs, bytes
	t.n++
}

// flush adds the sums to the metrics and starts over.
func (t *outTally) flush() {
	for i := 0; i < t.n; i++ {
		r := &t.rows[i]
		r.tm.messagesOut.Add(float64(r.msgs))
		r.tm.bytesOut.Add(float64(r.bytes))
		r.tm = nil
	}
	t.n = 0
}
