package upstream

import (
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bridgeway/bridgeway/config"
)

// Invalid UTF-8 in an upstream WebSocket text frame becomes U+FFFD where it
// enters the gateway (counted); valid text and binary frames are untouched.
// (SSE upstreams: the parser decodes the same way, sseparse_test.go.)
func TestInvalidUpstreamTextReplaced(t *testing.T) {
	invalid := []byte("caf\xe9 \xff\xfe ok \xed\xa0\x80") // Latin-1 é, two stray bytes, a UTF-16 surrogate
	want := "caf\uFFFD \uFFFD ok \uFFFD"

	srv, _ := wsServer(t, nil, func(ws *websocket.Conn, _ *http.Request, _ int) {
		ws.WriteMessage(websocket.TextMessage, invalid)
		ws.WriteMessage(websocket.BinaryMessage, invalid)
		ws.WriteMessage(websocket.TextMessage, []byte("naïve ✓"))
		ws.ReadMessage()
	})
	opts := testOptions(t, config.KindWebSocket, wsURL(srv))
	opts.Metrics = NewMetrics(prometheus.NewRegistry())
	sink := newRecSink()
	startRun(t, dial(t, opts), sink)
	got := sink.waitMessages(t, 3)
	if string(got[0].Data) != want || got[0].Binary {
		t.Errorf("invalid text frame became %q (binary %v), want %q", got[0].Data, got[0].Binary, want)
	}
	if string(got[1].Data) != string(invalid) || !got[1].Binary {
		t.Errorf("binary frame became %q (binary %v), want it unchanged", got[1].Data, got[1].Binary)
	}
	if string(got[2].Data) != "naïve ✓" {
		t.Errorf("valid text became %q", got[2].Data)
	}
	if n := testutil.ToFloat64(opts.Metrics.invalidText.WithLabelValues("/t", "websocket")); n != 1 {
		t.Errorf("invalid_text_total = %v, want 1", n)
	}
}
