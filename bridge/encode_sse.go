package bridge

import (
	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// The SSE encoder: events over the delivery layer's output (wireOut).

func newSSEWriter(o wireOut) streamWriter { return &sseWriter{out: o} }

// sseWriter writes SSE events; message events are the log's cached bytes.
type sseWriter struct {
	out wireOut
}

var (
	// sseHeartbeat is a named event, not a comment: EventSource shows
	// events to JavaScript and never comments, and the library watches
	// for silence (a buffering proxy holding the stream).
	sseHeartbeat = []byte("event: heartbeat\ndata:\n\n")
	sseRetry     = []byte("retry: 2000\n\n")
)

func (s *sseWriter) write(b []byte) error { return s.out.write(b) }

func (s *sseWriter) entry(e *msglog.Entry) (int, error) {
	return len(e.Msg.Data), s.write(e.Encoded(msglog.FormatSSE, encodeSSE))
}

func (s *sseWriter) gap(g *msglog.Gap) error {
	return s.write(wire.AppendGapSSE(nil, g.From, g.To))
}

func (s *sseWriter) close(info msg.CloseInfo) error {
	return s.write(wire.AppendCloseSSE(nil, "", info.Code, info.Reason))
}

func (s *sseWriter) heartbeat() error { return s.write(sseHeartbeat) }
func (s *sseWriter) goingAway() error { return s.write(sseRetry) }
func (s *sseWriter) flush() error     { return s.out.flush() }
