package proxy

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestAccessLogCountsTunnelBytes: the pass-through tunnel writes echoes
// straight to the client's socket; the access line of the tunnel still
// counts them (AddWritten), on top of the 101.
func TestAccessLogCountsTunnelBytes(t *testing.T) {
	up := startUpstream(t, "app")
	core, logs := observer.New(zapcore.InfoLevel)
	s := startServer(t, baseYAML+"routes:\n"+route("/app", up.URL), Deps{Logger: zap.New(core)})
	tunnel := dialWS(t, "ws://"+s.Addr()+"/app/ws") // one "ping" echo
	msg := bytes.Repeat([]byte("x"), 1000)
	const echoes = 50
	for range echoes {
		if err := tunnel.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
		if _, got, err := tunnel.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo: %v", err)
		}
	}
	_ = tunnel.Close()

	eventually(t, "the tunnel's access line", func() bool {
		return logs.FilterLoggerName("access").Len() >= 1
	})
	fields := logs.FilterLoggerName("access").All()[0].ContextMap()
	// Each echo is a 1000-byte payload behind a 4-byte header; the 101 and
	// the "ping" echo come on top.
	n, ok := fields["bytes"].(int64)
	if min := int64(echoes * 1004); !ok || n < min {
		t.Errorf("access line bytes = %v, want at least %d (%s)", fields["bytes"], min, fmt.Sprint(fields))
	}
}
