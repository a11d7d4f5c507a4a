package upstream

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// pollConn makes one conditional GET every interval. Requests are made one
// after the other by Run alone, so two are never in flight: a slow answer
// delays the next request instead of overlapping it. A message is appended
// only when the body really changed: 304, 204 and a 2xx whose body hashes the
// same as the last one are "nothing new". Failures (network, timeout, 5xx)
// back off exponentially with jitter, never faster than the interval, and
// the schedule returns to the interval after a success. A poller samples
// state, so there is nothing to replay after a failure and no gap; a body it
// cannot take (too large, not a JSON array under split json_array) is a gap.
//
// With Reconnect=false Dial makes the first request and fails when it does
// (the gateway answers 502); with Reconnect=true Run makes it. Later transient failures are retried, a
// permanent one (4xx) ends Run with 1014.
type pollConn struct {
	*httpBase
	first *fetchResult // made by Dial, handled first by Run
}

var _ Conn = (*pollConn)(nil)

func dialPoll(ctx context.Context, s *settings) (Conn, error) {
	c := &pollConn{httpBase: newHTTPBase(s)}
	if s.reconnect {
		return c, nil // Run polls at once; Dial must not block a topic on a dead upstream
	}
	r := c.fetch(ctx, conditional{})
	if o := classify(r); o == outcomeTransient || o == outcomePermanent {
		inc(c.cnt.failures)
		inc(c.cnt.failed)
		c.transport.CloseIdleConnections()
		return nil, fmt.Errorf("upstream: first poll: %s", r.describe())
	}
	c.first = &r
	return c, nil
}

func (c *pollConn) Run(ctx context.Context, sink msg.Sink) msg.CloseInfo {
	runCtx, stop := runContext(ctx, c.closed)
	defer stop()
	defer c.transport.CloseIdleConnections()

	var (
		cond     conditional
		lastHash [sha256.Size]byte
		seen     bool
		failing  bool
		hl       = health{s: c.s}
		backoff  = NewBackoff(c.s.minDelay, c.s.maxDelay)
		split    = c.s.split
	)
	for {
		if c.stopping(runCtx) {
			return endInfo(c.closed)
		}
		started := time.Now()
		var r fetchResult
		if c.first != nil {
			r, c.first = *c.first, nil
		} else {
			r = c.fetch(runCtx, cond)
		}
		if c.stopping(runCtx) {
			return endInfo(c.closed)
		}
		wait := c.s.interval - time.Since(started)
		switch o := classify(r); o {
		case outcomeTransient, outcomePermanent:
			inc(c.cnt.failures)
			inc(c.cnt.failed)
			if o == outcomePermanent && !c.s.reconnect {
				return msg.CloseInfo{Code: CloseBadGateway, Reason: r.describe()}
			}
			failing = true
			hl.fail(r.describe())
			wait = max(c.s.interval, backoff.Next())
		default:
			if failing {
				inc(c.cnt.reconnects)
				failing = false
			}
			hl.ok()
			backoff.Reset()
			cond.update(r)
			switch o {
			case outcomeBody:
				if h := bodyHash(r.body); !seen || h != lastHash {
					seen, lastHash = true, h
					inc(c.cnt.changed)
					deliverBody(r.body, split, sink, c.cnt)
				} else {
					inc(c.cnt.unchanged)
				}
			case outcomeSkipped:
				inc(c.cnt.failures)
				inc(c.cnt.failed)
				sink.Gap("upstream body too large")
			default:
				inc(c.cnt.unchanged)
			}
		}
		if !sleep(runCtx, wait) {
			return endInfo(c.closed)
		}
	}
}

// Close makes Run return; an in-flight request is cancelled.
func (c *pollConn) Close() error {
	c.closeFunc()
	c.transport.CloseIdleConnections()
	return nil
}
