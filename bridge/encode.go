package bridge

import (
	"encoding/base64"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

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
		return wire.AppendGapSSE(nil, e.PrevCursor, e.Cursor)
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
		return wire.AppendGapMessageJSON(nil, e.PrevCursor, e.Cursor)
	}
	size := len(e.Msg.Data)*4/3 + len(e.Cursor) + len(e.Msg.Event) + 64
	return wire.AppendMessageJSON(make([]byte, 0, size), e.Cursor, e.Msg.Event, e.Msg.Data, e.Msg.Binary)
}
