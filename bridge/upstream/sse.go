package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// sseConn is the gateway as an EventSource client. It keeps the stream's
// last event id across reconnects and sends it as Last-Event-ID, so an
// upstream that can resume replays what was missed and no gap is reported;
// when no id was ever seen a reconnect reports a gap. A retry: field is a
// floor for the reconnect delay. An answer other than 200 text/event-stream
// is a failure; 204 means "stop reconnecting" (as for EventSource) and ends
// Run with 1000 even with Reconnect=true.
//
// With Reconnect=false the stream's end ends Run: 1000 when it ended cleanly
// (EOF), 1006 when it broke.
//
// There is no idle timeout on an open stream: SSE has no ping the gateway
// could ask for, and a quiet feed is legitimate.
type sseConn struct {
	*httpBase

	mu       sync.Mutex
	first    *sseStream // opened by Dial, read first by Run
	firstErr error      // Dial's failure (Reconnect=true only)

	// Owned by Run (health: set by Dial first).
	health      health
	lastEventID string
	retry       time.Duration
}

// sseStream is one open response and the cancel func that ends it.
type sseStream struct {
	resp   *http.Response
	cancel context.CancelFunc
}

func (st *sseStream) close() {
	st.cancel()
	st.resp.Body.Close()
}

var _ Conn = (*sseConn)(nil)

// errSSENoContent is a 204: the upstream asks not to reconnect.
var errSSENoContent = errors.New("upstream: sse answered 204 No Content")

func dialSSE(ctx context.Context, s *settings) (Conn, error) {
	c := &sseConn{httpBase: newHTTPBase(s)}
	c.health.s = s
	st, err := c.open(ctx)
	if err != nil {
		if !s.reconnect || errors.Is(err, errSSENoContent) {
			c.transport.CloseIdleConnections()
			return nil, err
		}
		c.health.fail("first connect: " + err.Error())
		c.firstErr = err
		return c, nil
	}
	c.first = st
	return c, nil
}

// open requests the stream. ctx bounds only the wait for the response
// headers (as does the upstream timeout); the stream itself lives until its
// cancel func is called.
func (c *sseConn) open(ctx context.Context) (*sseStream, error) {
	streamCtx, cancel := context.WithCancel(context.Background())
	stopWatch := context.AfterFunc(ctx, cancel)
	timer := time.AfterFunc(c.s.timeout, cancel)
	req, err := c.newRequest(streamCtx)
	if err != nil {
		stopWatch()
		timer.Stop()
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if c.lastEventID != "" {
		req.Header.Set("Last-Event-ID", c.lastEventID)
	}
	resp, err := c.client.Do(req)
	watching := stopWatch()
	timing := timer.Stop()
	if err == nil && (!watching || !timing) {
		// ctx ended or the timer fired just as the headers arrived.
		resp.Body.Close()
		err = context.Canceled
	}
	if err != nil {
		cancel()
		inc(c.cnt.failures)
		return nil, fmt.Errorf("upstream: sse connect: %w", err)
	}
	if err := checkSSEResponse(resp); err != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		inc(c.cnt.failures)
		return nil, err
	}
	inc(c.cnt.connects)
	return &sseStream{resp: resp, cancel: cancel}, nil
}

func checkSSEResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusNoContent {
		return errSSENoContent
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upstream: sse answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/event-stream" {
		return fmt.Errorf("upstream: sse answered content type %q, want text/event-stream", ct)
	}
	return nil
}

func (c *sseConn) takeFirst() (*sseStream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.first, c.firstErr
	c.first, c.firstErr = nil, nil
	return st, err
}

func (c *sseConn) Run(ctx context.Context, sink msg.Sink) msg.CloseInfo {
	runCtx, stop := runContext(ctx, c.closed)
	defer stop()
	defer c.transport.CloseIdleConnections()

	st, firstErr := c.takeFirst()
	if errors.Is(firstErr, errSSENoContent) {
		return msg.CloseInfo{Code: CloseNormal, Reason: "upstream asked not to reconnect (204)"}
	}
	backoff := NewBackoff(c.s.minDelay, c.s.maxDelay)
	everConnected := st != nil
	for {
		if c.stopping(runCtx) {
			if st != nil {
				st.close()
			}
			return endInfo(c.closed)
		}
		if st == nil {
			if !c.s.reconnect || !sleep(runCtx, max(backoff.Next(), c.retry)) {
				return endInfo(c.closed)
			}
			var err error
			if st, err = c.open(runCtx); err != nil {
				if errors.Is(err, errSSENoContent) {
					return msg.CloseInfo{Code: CloseNormal, Reason: "upstream asked not to reconnect (204)"}
				}
				c.health.fail(err.Error())
				continue
			}
			c.health.ok()
			backoff.Reset()
			if everConnected {
				inc(c.cnt.reconnects)
				if c.lastEventID == "" {
					sink.Gap("upstream reconnected without an event id to resume from")
				}
			}
			everConnected = true
		}
		err := c.readStream(runCtx, st, sink)
		st = nil
		if c.stopping(runCtx) {
			return endInfo(c.closed)
		}
		clean := errors.Is(err, io.EOF)
		if !clean {
			inc(c.cnt.failures)
		}
		if !c.s.reconnect {
			if clean {
				return msg.CloseInfo{Code: CloseNormal, Reason: "upstream stream ended"}
			}
			return msg.CloseInfo{Code: CloseAbnormal, Reason: "upstream stream lost"}
		}
		c.health.fail("stream ended: " + err.Error())
	}
}

// readStream appends the events of one response until it ends.
func (c *sseConn) readStream(runCtx context.Context, st *sseStream, sink msg.Sink) error {
	stopWatch := context.AfterFunc(runCtx, st.cancel)
	defer stopWatch()
	defer st.close()

	p := NewSSEParser(st.resp.Body)
	p.SetMaxBytes(int(min(c.s.maxBytes, 1<<30)))
	p.idBuffer, p.lastEventID = c.lastEventID, c.lastEventID // the id persists across connections
	for {
		ev, err := p.Next()
		c.lastEventID = p.LastEventID()
		if r := p.Retry(); r > 0 {
			c.retry = min(r, c.s.maxDelay)
		}
		if err != nil {
			return err
		}
		event := ev.Type
		if event == "message" {
			event = ""
		}
		inc(c.cnt.messages)
		sink.Append(msg.Message{Event: event, Data: ev.Data, UpstreamID: ev.ID})
	}
}

// Close makes Run return; a stream opened by Dial and not yet read is closed.
func (c *sseConn) Close() error {
	c.closeFunc()
	if st, _ := c.takeFirst(); st != nil {
		st.close()
	}
	c.transport.CloseIdleConnections()
	return nil
}
