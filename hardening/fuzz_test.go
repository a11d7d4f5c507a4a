package hardening

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// FuzzGatewayRequest writes arbitrary bytes to a running gateway (a
// pass-through HTTP route, a pass-through WebSocket route, a bridged
// session route and a broadcast route) over a raw connection, then
// half-closes it. The gateway must answer with HTTP or close the
// connection, never hang, and never panic (net/http would recover a handler
// panic and log it: the log is watched). Seeds: testdata/fuzz/FuzzGatewayRequest.
func FuzzGatewayRequest(f *testing.F) {
	app := newWSApp(f)
	httpUp := newHTTPApp(f)
	core, logs := observer.New(zapcore.WarnLevel)
	cfg := parseConfig(f, "limits: {read_header_timeout: 2s, max_header_bytes: 16KiB, max_body_bytes: 64KiB}\nroutes:\n"+
		"  - path: /h\n    upstream: {url: \""+httpUp.srv.URL+"\", kind: http, timeout: 2s}\n"+
		"  - path: /t\n    upstream: {url: \""+app.srv.URL+"\", kind: http, timeout: 2s}\n"+
		"  - path: /s\n    upstream: {url: \""+app.wsURL("/echo")+"\", timeout: 2s}\n    session_ttl: 1s\n    poll_timeout: 1s\n"+
		"  - path: /b\n    mode: broadcast\n    upstream: {url: \""+app.wsURL("/feed")+"\"}\n    poll_timeout: 1s\n")
	g := startGatewayLogged(f, cfg, zap.New(core))

	for _, seed := range []string{
		"GET /h/x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /s/poll HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /b/sse HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /s/send?session=x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
		"GET /s/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n\r\n\x81\x82abcd\x00\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.DialTimeout("tcp", g.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("the gateway stopped accepting: %v", err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write(data); err == nil {
			_ = c.(*net.TCPConn).CloseWrite()
		}
		var got bytes.Buffer
		_, err = io.Copy(&got, io.LimitReader(c, 1<<20))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no answer and no close within 20s; got %q", clip(got.Bytes()))
		}
		if got.Len() > 0 && !bytes.HasPrefix(got.Bytes(), []byte("HTTP/1.")) {
			t.Fatalf("answer is not HTTP: %q", clip(got.Bytes()))
		}
		for _, e := range logs.TakeAll() {
			if strings.Contains(e.Message, "panic") || strings.Contains(e.Message, "goroutine ") {
				t.Fatalf("the gateway panicked: %s", e.Message)
			}
		}
	})
}

func clip(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
