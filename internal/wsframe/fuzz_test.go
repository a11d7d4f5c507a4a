package wsframe

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// FuzzReader: any bytes from either peer end in frames, messages or an
// error, never a panic; messages keep to the limit, control frames to 125
// bytes, and a client's text is UTF-8. The upstream (Server) side matters
// as much as the client's: a hostile or broken app is read by this code.
func FuzzReader(f *testing.F) {
	f.Add(false, []byte{0x81, 0x02, 'h', 'i'})                                       // server text
	f.Add(false, []byte{0x01, 0x01, 'a', 0x89, 0x00, 0x80, 0x01, 'b'})               // fragments around a ping
	f.Add(false, []byte{0x88, 0x01, 0x03})                                           // one-byte close
	f.Add(false, []byte{0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // huge declared length
	f.Add(false, []byte{0x82, 0x7e, 0x04, 0x00, 'x'})                                // truncated 126-length frame
	f.Add(true, []byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2})                    // client text
	f.Add(true, []byte{0x88, 0x84, 0, 0, 0, 0, 0x03, 0xe8, 0xff, 0xfe})              // close with bad UTF-8
	const limit = 1024
	f.Fuzz(func(t *testing.T, client bool, data []byte) {
		r := &Reader{Side: Server}
		if client {
			r.Side = Client
		}
		src := bytes.NewReader(data)
		for range 1000 {
			fr, ok, err := r.ReadFrame(src, limit)
			if err != nil {
				return
			}
			if !ok {
				continue // a fragment kept for later
			}
			switch fr.Op {
			case websocket.TextMessage:
				if r.Side == Client && !utf8.Valid(fr.Payload) {
					t.Fatalf("invalid UTF-8 client text passed: %q", fr.Payload)
				}
				fallthrough
			case websocket.BinaryMessage:
				if len(fr.Payload) > limit {
					t.Fatalf("message of %d bytes passed the %d limit", len(fr.Payload), limit)
				}
			case websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
				if len(fr.Payload) > 125 {
					t.Fatalf("control frame of %d bytes", len(fr.Payload))
				}
			default:
				t.Fatalf("opcode %d returned", fr.Op)
			}
		}
	})
}
