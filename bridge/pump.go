package bridge

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
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

// streamWriter is a push transport's view of the wire (SSE, NDJSON
// stream, WebSocket). pump drives it; it only formats and writes.
type streamWriter interface {
	// entry writes a message or an upstream gap marker; it returns the
	// payload bytes of a message (0 for a gap).
	entry(e *msglog.Entry) (int, error)
	gap(g *msglog.Gap) error
	close(info msg.CloseInfo) error
	heartbeat() error
	flush() error
	// goingAway is the shutdown farewell (SSE retry, WS 1001).
	goingAway() error
}

// pump copies the attachment's log to w until the log closes, the client
// goes, the route shuts down or a write fails.
func (h *RouteHandler) pump(ctx context.Context, a *attachment, w streamWriter) {
	heartbeat := time.NewTicker(h.set.heartbeat)
	defer heartbeat.Stop()
	for {
		wait, done, err := h.pumpStep(ctx, a, w)
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
// log: the shared fan-out (fanout.go) drives idle subscribers with it.
func (h *RouteHandler) pumpStep(ctx context.Context, a *attachment, w streamWriter) (wait <-chan struct{}, done bool, err error) {
	unflushed := false
	for {
		res := a.rd.Next(batchSize)
		wrote := false
		if g := res.Gap; g != nil {
			if g.Overrun && h.set.slowDisconnect {
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
				a.countOut(msgs, bytes)
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
		a.countOut(msgs, bytes)
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
			continue
		}
		if unflushed {
			if err := w.flush(); err != nil {
				return nil, false, err
			}
			a.log().Ack(a.rd.Pos())
		}
		return res.Wait, false, nil
	}
}

// messageText is what text transports show of a message: the data, or its
// base64 when binary.
func messageText(m *msg.Message) []byte {
	if !m.Binary {
		return m.Data
	}
	return base64.StdEncoding.AppendEncode(nil, m.Data)
}

// encodeSSE is an entry's cached SSE event. A binary message is base64 with
// event "binary" (SSE has no other way to flag it).
func encodeSSE(e *msglog.Entry) []byte {
	if e.Kind == msglog.KindGap {
		data := wire.AppendGapJSON(nil, e.PrevCursor, e.Cursor)
		return wire.AppendSSE(nil, e.Cursor, "gap", data)
	}
	event := e.Msg.Event
	if e.Msg.Binary && (event == "" || event == "message") {
		event = "binary"
	}
	data := messageText(&e.Msg)
	return wire.AppendSSE(make([]byte, 0, len(data)+len(e.Cursor)+len(event)+32), e.Cursor, event, data)
}

// encodeJSON is an entry's cached JSON object (long-poll, stream, WS
// ?format=json). A gap marker becomes {"id":C,"gap":{"from":F,"to":C}}.
func encodeJSON(e *msglog.Entry) []byte {
	if e.Kind == msglog.KindGap {
		b := []byte(`{"id":`)
		b = wire.AppendJSONString(b, e.Cursor)
		b = append(b, `,"gap":`...)
		b = wire.AppendGapJSON(b, e.PrevCursor, e.Cursor)
		return append(b, '}')
	}
	size := len(e.Msg.Data)*4/3 + len(e.Cursor) + len(e.Msg.Event) + 64
	return wire.AppendMessageJSON(make([]byte, 0, size), e.Cursor, e.Msg.Event, e.Msg.Data, e.Msg.Binary)
}
