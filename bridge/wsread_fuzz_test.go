package bridge

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// FuzzWSFrameReader: any bytes from a client end in a frame, a message or
// an error, never a panic; messages respect the limit and text is UTF-8.
func FuzzWSFrameReader(f *testing.F) {
	mask := []byte{1, 2, 3, 4}
	f.Add([]byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2})
	f.Add(append([]byte{0x01, 0x81}, append(mask, 'a'^1)...))
	f.Add([]byte{0x89, 0x80, 0, 0, 0, 0, 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8})
	f.Add([]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc1, 0x80, 0, 0, 0, 0})
	const limit = 1024
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &wsFrameReader{r: bytes.NewReader(data), limit: limit}
		for range 1000 {
			fr, err := r.next()
			if err != nil {
				return
			}
			switch fr.op {
			case websocket.TextMessage:
				if !utf8.Valid(fr.payload) {
					t.Fatalf("invalid UTF-8 text message passed: %q", fr.payload)
				}
				fallthrough
			case websocket.BinaryMessage:
				if len(fr.payload) > limit {
					t.Fatalf("message of %d bytes passed the %d limit", len(fr.payload), limit)
				}
			case websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
				if len(fr.payload) > 125 {
					t.Fatalf("control frame of %d bytes", len(fr.payload))
				}
			default:
				t.Fatalf("opcode %d returned", fr.op)
			}
		}
	})
}
