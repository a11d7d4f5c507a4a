package passthrough

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkTunnelEcho measures round trips of 1 KiB binary messages through
// the WebSocket tunnel (client → gateway → echo upstream → gateway → client).
func BenchmarkTunnelEcho(b *testing.B) { benchmarkTunnelEcho(b, 1024) }

// BenchmarkTunnelEchoSmall is BenchmarkTunnelEcho with the 128-byte
// messages of bench/compare.sh's echo-pass scenario.
func BenchmarkTunnelEchoSmall(b *testing.B) { benchmarkTunnelEcho(b, 128) }

func benchmarkTunnelEcho(b *testing.B, size int) {
	up := newEchoUpstream(b, false)
	gw := newGateway(b, route("/ws", up.srv.URL), nil)
	c := dialWS(b, wsURL(gw.srv, "/ws"))
	msg := bytes.Repeat([]byte{7}, size)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProxyGET measures small GETs through the pass-through proxy with
// pooled upstream connections.
func BenchmarkProxyGET(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(up.Close)
	gw := newGateway(b, route("/", up.URL), nil)
	client := gw.srv.Client()
	for b.Loop() {
		res, err := client.Get(gw.srv.URL + "/x")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}

// BenchmarkDirectEcho is BenchmarkTunnelEcho without the gateway, for
// comparison.
func BenchmarkDirectEcho(b *testing.B) {
	up := newEchoUpstream(b, false)
	c := dialWS(b, wsURL(up.srv, "/"))
	msg := bytes.Repeat([]byte{7}, 1024)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
