package bridge_test

import (
	"encoding/binary"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// TestCloseFramesAnsweredAlikeOnEveryRoute: session and broadcast routes
// read client frames with the same reader, so a close frame gets the same
// answer on both: a one-byte payload is a protocol error (RFC 6455 5.5.1:
// a body starts with a two-byte code), 1014 (registered, but sent only by
// gateways) is refused like gorilla/websocket refuses it, 1000 and 4000
// are echoed. Each ends with a FIN.
func TestCloseFramesAnsweredAlikeOnEveryRoute(t *testing.T) {
	up := newUpstream(t)
	bc := broadcastRoute(up)
	bc.ClientSend = true
	gateways := map[string]struct {
		g    *gateway
		path string
	}{
		"session":   {newGateway(t, sessionRoute(up), config.Limits{}), "/chat/ws"},
		"broadcast": {newGateway(t, bc, config.Limits{}), "/prices/ACME/ws"},
	}
	cases := []struct {
		name    string
		payload []byte
		want    int // 1005: an empty close payload
	}{
		{"one byte", []byte{0x03}, 1002},
		{"code 1014", []byte{0x03, 0xf6}, 1002},
		{"code 1000", []byte{0x03, 0xe8}, 1000},
		{"code 4000 with reason", []byte{0x0f, 0xa0, 'b', 'y', 'e'}, 4000},
		{"empty", nil, 1005},
	}
	for route, gw := range gateways {
		for _, tc := range cases {
			t.Run(route+"/"+tc.name, func(t *testing.T) {
				c := dialFrames(t, gw.g, gw.path)
				if _, err := c.conn.Write(clientFrame(0x88, tc.payload)); err != nil {
					t.Fatal(err)
				}
				_, closing, end := c.endOf()
				got := 1005
				if len(closing) >= 2 {
					got = int(binary.BigEndian.Uint16(closing))
				} else if closing == nil {
					got = -1
				}
				if got != tc.want {
					t.Errorf("close answer %d (payload %q), want %d", got, closing, tc.want)
				}
				if end != nil {
					t.Errorf("after the close frame: %v, want EOF", end)
				}
			})
		}
	}
}
