package upstream

import (
	"context"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// longPollConn loops GET requests that the upstream holds until it has
// something new. Each non-empty 2xx body is delivered (see deliverBody);
// 204, 304 and an empty 200 mean nothing new. Either way the next request
// goes out at once, but never sooner than reconnect.min after the previous
// one started, so an upstream that does not actually hold requests (it
// answers at once, with or without a body) is not hammered: it was asked
// about 6,600 times a second. The previous answer's
// ETag / Last-Modified go back as If-None-Match / If-Modified-Since, which
// is how the upstream knows where we are: transient failures are retried
// with backoff and need no gap. Dial makes no request (see Dial).
type longPollConn struct {
	*httpBase
}

var _ Conn = (*longPollConn)(nil)

func dialLongPoll(_ context.Context, s *settings) (Conn, error) {
	return &longPollConn{httpBase: newHTTPBase(s)}, nil
}

func (c *longPollConn) Run(ctx context.Context, sink msg.Sink) msg.CloseInfo {
	runCtx, stop := runContext(ctx, c.closed)
	defer stop()
	defer c.transport.CloseIdleConnections()

	var cond conditional
	backoff := NewBackoff(c.s.minDelay, c.s.maxDelay)
	failing := false
	hl := health{s: c.s}
	for {
		if c.stopping(runCtx) {
			return endInfo(c.closed)
		}
		started := time.Now()
		r := c.fetch(runCtx, cond)
		if c.stopping(runCtx) {
			return endInfo(c.closed)
		}
		switch classify(r) {
		case outcomeTransient, outcomePermanent:
			inc(c.cnt.failures)
			inc(c.cnt.failed)
			if classify(r) == outcomePermanent && !c.s.reconnect {
				return msg.CloseInfo{Code: CloseBadGateway, Reason: r.describe()}
			}
			failing = true
			hl.fail(r.describe())
			if !sleep(runCtx, backoff.Next()) {
				return endInfo(c.closed)
			}
			continue
		}
		if failing {
			inc(c.cnt.reconnects)
			failing = false
		}
		hl.ok()
		backoff.Reset()
		cond.update(r)
		switch classify(r) {
		case outcomeBody:
			if len(r.body) > 0 { // some servers end a held poll with an empty 200
				inc(c.cnt.changed)
				deliverBody(r.body, c.s.split, sink, c.cnt)
			}
			inc(c.cnt.unchanged)
		case outcomeSkipped:
			inc(c.cnt.failures)
			inc(c.cnt.failed)
			sink.Gap("upstream body too large")
		default:
			inc(c.cnt.unchanged)
		}
		if !sleep(runCtx, c.s.minDelay-time.Since(started)) {
			return endInfo(c.closed)
		}
	}
}

// Close makes Run return; an in-flight request is cancelled.
func (c *longPollConn) Close() error {
	c.closeFunc()
	c.transport.CloseIdleConnections()
	return nil
}
