package hardening

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// resources is what a leak would grow.
type resources struct {
	goroutines int
	fds        int
	heap       uint64
}

func measure() resources {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds := -1
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents)
	}
	return resources{goroutines: runtime.NumGoroutine(), fds: fds, heap: ms.HeapAlloc}
}

// TestSoakConnectDisconnect runs 10,000 connect/disconnect cycles across
// every client transport (WebSocket, SSE, long-poll, poll, JSONP, NDJSON
// stream, send; session and broadcast mode; pass-through HTTP and
// WebSocket tunnels), 8 at a time. Afterwards goroutines, open file
// descriptors and heap return near their starting level (goleak in
// TestMain checks the rest at exit).
func TestSoakConnectDisconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("soak skipped in -short")
	}
	app := newWSApp(t)
	httpUp := newHTTPApp(t)
	// No pooled upstream keep-alive connections: their goroutines and fds
	// (both ends live in this process) would blur the leak check.
	httpUp.srv.Config.SetKeepAlivesEnabled(false)
	g := startGateway(t, oneMachineLoad+"routes:\n"+
		"  - path: /s\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n    session_ttl: 2s\n"+
		"  - path: /b\n    mode: broadcast\n    idle_close: 1s\n    upstream: {url: \""+app.wsURL("/feed")+"\"}\n"+
		"  - path: /h\n    upstream: {url: \""+httpUp.srv.URL+"\", kind: http}\n"+
		"  - path: /t\n    upstream: {url: \""+app.srv.URL+"\", kind: http}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cycle := func(i int) error {
		switch i % 9 {
		case 0: // session WebSocket with one echo
			ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+g.addr+"/s/ws", nil)
			if err != nil {
				return err
			}
			defer ws.Close()
			if err := ws.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
				return err
			}
			_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, _, err = ws.ReadMessage()
			return err
		case 1: // SSE open, first event, leave
			res, err := openStreaming(t, ctx, g.URL+"/s/sse", nil)
			if err != nil {
				return err
			}
			buf := make([]byte, 64)
			_, err = res.Body.Read(buf)
			res.Body.Close()
			return err
		case 2: // long-poll open + send + poll the echo
			opened := time.Now()
			a, err := soakGet(ctx, g.URL+"/s/poll")
			if err != nil {
				return err
			}
			p := decodePollBody([]byte(a))
			if err := soakPost(ctx, g.URL+"/s/send?session="+p.Session, "y"); err != nil {
				return fmt.Errorf("%w (%v after the open)", err, time.Since(opened))
			}
			if _, err = soakGet(ctx, g.URL+"/s/poll?cursor="+p.Cursor); err != nil {
				return fmt.Errorf("%w (%v after the open)", err, time.Since(opened))
			}
			return nil
		case 3: // NDJSON stream open, first line, leave
			res, err := openStreaming(t, ctx, g.URL+"/s/stream", nil)
			if err != nil {
				return err
			}
			buf := make([]byte, 64)
			_, err = res.Body.Read(buf)
			res.Body.Close()
			return err
		case 4: // broadcast WebSocket subscribe/unsubscribe
			ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+g.addr+"/b/ws", nil)
			if err != nil {
				return err
			}
			return ws.Close()
		case 5: // broadcast short poll and JSONP
			if _, err := soakGet(ctx, g.URL+"/b/poll?wait=0"); err != nil {
				return err
			}
			_, err := soakGet(ctx, g.URL+"/b/poll?callback=cb")
			return err
		case 6: // broadcast SSE
			res, err := openStreaming(t, ctx, g.URL+"/b/sse", nil)
			if err != nil {
				return err
			}
			buf := make([]byte, 16)
			_, err = res.Body.Read(buf)
			res.Body.Close()
			return err
		case 7: // pass-through HTTP
			_, err := soakGet(ctx, g.URL+"/h/x")
			return err
		default: // pass-through WebSocket tunnel with one echo
			ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+g.addr+"/t/echo", nil)
			if err != nil {
				return err
			}
			defer ws.Close()
			if err := ws.WriteMessage(websocket.TextMessage, []byte("z")); err != nil {
				return err
			}
			_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, _, err = ws.ReadMessage()
			return err
		}
	}

	// Warm up every path once (pools, lazily made metric children, ...).
	for i := range 9 {
		if err := cycle(i); err != nil {
			t.Fatalf("warm-up cycle %d: %v", i, err)
		}
	}
	settle(t, g)
	app.forget()
	httpUp.forget()
	start := measure()

	workers, perWorker := 8, 1250
	if n, err := strconv.Atoi(os.Getenv("BRIDGEWAY_SOAK_CYCLES")); err == nil && n > 0 {
		perWorker = (n + workers - 1) / workers // longer soaks by hand
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				if err := cycle(w + i*workers); err != nil {
					errs <- fmt.Errorf("cycle %d: %w", w+i*workers, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	settle(t, g)
	app.forget()
	httpUp.forget()
	var end resources
	back := func() bool {
		end = measure()
		return end.goroutines <= start.goroutines+2 && end.fds <= start.fds+2 && end.heap <= start.heap+4<<20
	}
	for deadline := time.Now().Add(30 * time.Second); !back(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("resources not back: start %+v, end %+v\n%s", start, end, buf[:runtime.Stack(buf, true)])
		}
	}
	if os.Getenv("SOAK_DUMP") != "" {
		buf := make([]byte, 1<<20)
		_ = os.WriteFile(os.Getenv("SOAK_DUMP"), buf[:runtime.Stack(buf, true)], 0o644)
	}
	t.Logf("%d cycles: goroutines %d -> %d, fds %d -> %d, heap %d KiB -> %d KiB",
		workers*perWorker, start.goroutines, end.goroutines, start.fds, end.fds, start.heap>>10, end.heap>>10)
}

// settle waits until sessions and topics have expired and client
// connections are closed.
func settle(t *testing.T, g *gateway) {
	t.Helper()
	eventually(t, "sessions and topics to expire", func() bool {
		return g.metric("bridgeway_bridge_sessions_open") == 0 &&
			g.metric("bridgeway_bridge_topics_open") == 0 &&
			g.metric("bridgeway_proxy_open_connections") == 0
	})
	httpClient.CloseIdleConnections()
}

func soakGet(ctx context.Context, url string) (string, error) {
	res, err := openStreaming(nil, ctx, url, nil)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %d %s", url, res.StatusCode, b)
	}
	return string(b), err
}

func soakPost(ctx context.Context, url, body string) error {
	a, err := doCtx(ctx, "POST", url, body)
	if err != nil {
		return err
	}
	if a != 204 {
		return fmt.Errorf("POST %s: %d", url, a)
	}
	return nil
}
