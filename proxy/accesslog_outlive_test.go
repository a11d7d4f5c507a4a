package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bridgeway/bridgeway/config"
)

// outliveRoute hijacks, answers and keeps serving the connection past its
// handler (OutliveHandler), as the bridge does for broadcast subscribers;
// the test ends each connection.
type outliveRoute struct {
	mu   sync.Mutex
	ends []func()
}

const outliveAnswer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nkept\n"

func (o *outliveRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	done := w.(interface{ OutliveHandler() func() }).OutliveHandler()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		done()
		return
	}
	_, _ = conn.Write([]byte(outliveAnswer))
	o.mu.Lock()
	o.ends = append(o.ends, func() { _ = conn.Close(); done() })
	o.mu.Unlock()
}

func (o *outliveRoute) Close(context.Context) error { return nil }

// TestOutlivingRequestAccessLine: a connection served past its handler is
// logged when it ends with every field of the request: the client's
// address behind a trusted proxy (it was the proxy's: the request kept
// for the line had lost what the gateway resolved), the redacted query,
// the user agent, the status and the bytes written to the hijacked socket.
func TestOutlivingRequestAccessLine(t *testing.T) {
	o := &outliveRoute{}
	core, logs := observer.New(zapcore.InfoLevel)
	s := startServer(t, baseYAML+"trusted_proxies: [\"127.0.0.1/32\"]\nroutes:\n"+route("/keep", "ws://127.0.0.1:1/keep"), Deps{
		Logger: zap.New(core),
		Bridge: func(config.Route) (RouteHandler, error) { return o, nil },
	})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET /keep/x?a=1&token=hunter2 HTTP/1.1\r\nHost: gw\r\n" +
		"X-Forwarded-For: 203.0.113.7\r\nUser-Agent: outlive-test\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("status line %q, %v", line, err)
	}
	eventually(t, "handler returned", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return len(o.ends) == 1
	})
	if n := logs.FilterLoggerName("access").Len(); n != 0 {
		t.Fatalf("%d access lines before the connection ended", n)
	}
	o.mu.Lock()
	end := o.ends[0]
	o.mu.Unlock()
	end()
	eventually(t, "access line", func() bool { return logs.FilterLoggerName("access").Len() == 1 })
	got := logs.FilterLoggerName("access").All()[0].ContextMap()
	for key, want := range map[string]any{
		"route": "/keep", "method": "GET", "path": "/keep/x", "query": "a=1&token=REDACTED",
		"proto": "HTTP/1.1", "status": int64(101), "bytes": int64(len(outliveAnswer)),
		"remote": "203.0.113.7", "user_agent": "outlive-test",
	} {
		if got[key] != want {
			t.Errorf("access field %s = %v (%T), want %v", key, got[key], got[key], want)
		}
	}
	if peer, _ := got["peer"].(string); peer != c.LocalAddr().String() {
		t.Errorf("peer %q, want %q", peer, c.LocalAddr())
	}
}
