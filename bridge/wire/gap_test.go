package wire_test

import (
	"testing"

	"github.com/bridgeway/bridgeway/bridge/wire"
)

// Every transport's gap marker, byte for byte: the poll answer's object,
// the message-stream object (NDJSON, WebSocket ?format=json) and the SSE
// event. A cursor is escaped in JSON and loses CR/LF in the SSE id.
func TestGapEncodings(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"object", wire.AppendGapJSON([]byte("x"), "e1-3", "e1-9"), `x{"from":"e1-3","to":"e1-9"}`},
		{"message", wire.AppendGapMessageJSON(nil, "e1-3", "e1-9"), `{"id":"e1-9","gap":{"from":"e1-3","to":"e1-9"}}`},
		{"message escaped", wire.AppendGapMessageJSON(nil, `a"`, "b\n"), `{"id":"b\n","gap":{"from":"a\"","to":"b\n"}}`},
		{"sse", wire.AppendGapSSE([]byte("x"), "e1-3", "e1-9"), "xid: e1-9\nevent: gap\ndata: {\"from\":\"e1-3\",\"to\":\"e1-9\"}\n\n"},
		{"sse id", wire.AppendGapSSE(nil, "a", "b\r\nc"), "id: bc\nevent: gap\ndata: {\"from\":\"a\",\"to\":\"b\\r\\nc\"}\n\n"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
