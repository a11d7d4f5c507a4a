package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/bridgeway/bridgeway/config"
)

// keepRoute hijacks every request, answers, and keeps the connection open
// after its handler returned, as the bridge does for broadcast subscribers.
type keepRoute struct {
	mu    sync.Mutex
	conns []net.Conn
	recs  []weak.Pointer[recorder]
}

func (k *keepRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	k.mu.Lock()
	k.conns = append(k.conns, conn)
	if rec, ok := w.(*recorder); ok {
		k.recs = append(k.recs, weak.Make(rec))
	}
	k.mu.Unlock()
	_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nkept\n"))
}

func (k *keepRoute) Close(context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.conns {
		_ = c.Close()
	}
	return nil
}

// A hijacked connection that outlives its handler must not keep the
// request's recorder (and through it net/http's response and its bufio
// buffers) reachable: that was 8 KiB per idle broadcast subscriber.
func TestHijackedConnectionDoesNotPinTheResponse(t *testing.T) {
	keep := &keepRoute{}
	s := startServer(t, baseYAML+"routes:\n"+route("/keep", "ws://127.0.0.1:1/keep"), Deps{
		Bridge: func(config.Route) (RouteHandler, error) { return keep, nil },
	})
	const clients = 5
	for range clients {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET /keep/x HTTP/1.1\r\nHost: gw\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "HTTP/1.1 200 OK\r\n" {
			t.Fatalf("status line %q, %v", line, err)
		}
	}
	keep.mu.Lock()
	recs := append([]weak.Pointer[recorder](nil), keep.recs...)
	keep.mu.Unlock()
	if len(recs) != clients {
		t.Fatalf("handler saw %d recorders, want %d (is the gateway still wrapping the response?)", len(recs), clients)
	}
	// The handlers have returned once the access log counted them; give
	// net/http a moment to let go, then collect.
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		alive := 0
		for _, p := range recs {
			if p.Value() != nil {
				alive++
			}
		}
		if alive == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d recorders still reachable while their hijacked connections are open", alive, clients)
		}
		time.Sleep(20 * time.Millisecond)
	}
	keep.mu.Lock()
	open := len(keep.conns)
	keep.mu.Unlock()
	if open != clients {
		t.Fatalf("route holds %d connections, want %d", open, clients)
	}
}
