package bridge

import (
	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// The NDJSON encoder: one JSON object per line over the delivery layer's
// output (wireOut); a bare newline is a heartbeat.

func newNDJSONWriter(o wireOut) streamWriter { return &ndjsonWriter{out: o} }

type ndjsonWriter struct {
	out wireOut
}

func (s *ndjsonWriter) write(b []byte) error { return s.out.write(b) }

var newline = []byte{'\n'}

func (s *ndjsonWriter) entry(e *msglog.Entry) (int, error) {
	return len(e.Msg.Data), s.out.write2(e.Encoded(msglog.FormatJSON, encodeJSON), newline)
}

func (s *ndjsonWriter) gap(g *msglog.Gap) error {
	return s.write(append(wire.AppendGapMessageJSON(nil, g.From, g.To), '\n'))
}

func (s *ndjsonWriter) close(info msg.CloseInfo) error {
	return s.write(append(wire.AppendClosedJSON(nil, info.Code, info.Reason), '\n'))
}

func (s *ndjsonWriter) heartbeat() error { return s.write(newline) }
func (s *ndjsonWriter) goingAway() error { return nil }
func (s *ndjsonWriter) flush() error     { return s.out.flush() }
