package bridge

import (
	"context"
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

// pump copies the attachment's log to w until the log closes, the client
// goes, the route shuts down or a write fails.
func (h *RouteHandler) pump(ctx context.Context, a *attachment, w streamWriter) {
	heartbeat := time.NewTicker(h.set().heartbeat)
	defer heartbeat.Stop()
	for {
		wait, done, err := h.pumpStep(ctx, a, w, nil)
		if done || err != nil {
			return
		}
		select {
		case <-wait:
		case <-heartbeat.C:
			if w.heartbeat() != nil || w.flush() != nil {
				return
			}
		case <-ctx.Done():
			return
		case <-h.shuttingDown():
			_ = w.goingAway()
			_ = w.flush()
			return
		}
	}
}

// pumpStep writes everything the reader has (a burst goes out in one
// flush) and returns the channel closed at the log's next change, or done
// when the connection is finished (log closed and said so, slow client
// disconnected, write failed, shutdown). It never blocks waiting for the
// log: the shared fan-out (deliver_fanout.go) drives idle subscribers with it,
// passing its round (rd) so that per-subscriber work stays small: one log
// read instead of two, delivery counts added once per round.
func (h *RouteHandler) pumpStep(ctx context.Context, a *attachment, w streamWriter, rd *stepRound) (wait <-chan struct{}, done bool, err error) {
	unflushed := false
	for {
		res := a.rd.Next(batchSize)
		wrote := false
		if g := res.Gap; g != nil {
			if g.Overrun && h.set().slowDisconnect {
				h.slowDisconnect(a)
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
			case <-h.shuttingDown():
				_ = w.goingAway()
				_ = w.flush()
				return nil, true, nil
			default:
			}
			// A short batch read everything the log had after the round's
			// wait channel was taken: no second read, that channel tells
			// of anything newer.
			if rd == nil || rd.wait == nil || len(res.Entries) >= batchSize {
				continue
			}
			res.Wait = rd.wait
		}
		if unflushed {
			if err := w.flush(); err != nil {
				return nil, false, err
			}
			if rd == nil || a.sess != nil {
				// Flow control (session logs); a broadcast log does not
				// wait for acks, so the fan-out skips the lock.
				a.log().Ack(a.rd.Pos())
			}
		}
		return res.Wait, false, nil
	}
}

// stepRound is what one fan-out round shares between its subscribers'
// steps.
type stepRound struct {
	// wait was taken from the log before the round's first read: closed
	// at any change after it. nil when the log is closed.
	wait  <-chan struct{}
	tally outTally
}

// countOut records delivered messages: in the round's tally (broadcast in
// the fan-out), else at once.
func (rd *stepRound) countOut(a *attachment, msgs, bytes int) {
	if rd == nil || a.sess != nil {
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
