package wire_test

import (
	"testing"

	"github.com/bridgeway/bridgeway/bridge/wire"
)

// Every transport's gap marker and end of stream, byte for byte. Gaps: the
// poll answer's object, the message-stream object (NDJSON, WebSocket
// ?format=json) and the SSE event; a cursor is escaped in JSON and loses
// CR/LF in the SSE id. Ends: the close object, the NDJSON closed line and
// the SSE close event.
func TestGapAndCloseEncodings(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"gap object", wire.AppendGapJSON([]byte("x"), "e1-3", "e1-9"), `x{"from":"e1-3","to":"e1-9"}`},
		{"gap message", wire.AppendGapMessageJSON(nil, "e1-3", "e1-9"), `{"id":"e1-9","gap":{"from":"e1-3","to":"e1-9"}}`},
		{"gap message escaped", wire.AppendGapMessageJSON(nil, `a"`, "b\n"), `{"id":"b\n","gap":{"from":"a\"","to":"b\n"}}`},
		{"gap sse", wire.AppendGapSSE([]byte("x"), "e1-3", "e1-9"), "xid: e1-9\nevent: gap\ndata: {\"from\":\"e1-3\",\"to\":\"e1-9\"}\n\n"},
		{"gap sse id", wire.AppendGapSSE(nil, "a", "b\r\nc"), "id: bc\nevent: gap\ndata: {\"from\":\"a\",\"to\":\"b\\r\\nc\"}\n\n"},
		{"close object", wire.AppendCloseJSON([]byte("x"), 4404, "session_not_found"), `x{"code":4404,"reason":"session_not_found"}`},
		{"closed line", wire.AppendClosedJSON(nil, 1000, `a "b"`), `{"closed":{"code":1000,"reason":"a \"b\""}}`},
		{"close sse", wire.AppendCloseSSE(nil, "", 1001, "bye"), "event: close\ndata: {\"code\":1001,\"reason\":\"bye\"}\n\n"},
		{"close sse id", wire.AppendCloseSSE([]byte("retry: 2000\n\n"), "end", 4404, "x"), "retry: 2000\n\nid: end\nevent: close\ndata: {\"code\":4404,\"reason\":\"x\"}\n\n"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
