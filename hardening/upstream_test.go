package hardening

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wsApp is a real gorilla WebSocket upstream: it echoes what it gets on
// /echo, records every message it receives, and lets a test push to every
// open connection. Each connection has one writer (its own goroutine).
type wsApp struct {
	srv      *httptest.Server
	upgrader websocket.Upgrader

	accepted atomic.Int64
	received atomic.Int64 // messages received from the gateway

	mu    sync.Mutex
	conns map[*appConn]struct{}
	msgs  []string
	hdrs  []http.Header
}

type appConn struct {
	path string
	ws   *websocket.Conn
	out  chan appFrame
	done chan struct{}
}

type appFrame struct {
	kind int
	data []byte
}

func newWSApp(t testing.TB) *wsApp {
	t.Helper()
	a := &wsApp{conns: map[*appConn]struct{}{}}
	a.upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.close)
	return a
}

// wsURL is ws://host:port + path.
func (a *wsApp) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(a.srv.URL, "http") + path
}

func (a *wsApp) hostPort() string { return strings.TrimPrefix(a.srv.URL, "http://") }

func (a *wsApp) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := a.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &appConn{path: r.URL.Path, ws: ws, out: make(chan appFrame, 4096), done: make(chan struct{})}
	a.mu.Lock()
	a.conns[c] = struct{}{}
	a.hdrs = append(a.hdrs, r.Header.Clone())
	a.mu.Unlock()
	a.accepted.Add(1) // after registering: a test that saw the count can push

	defer func() {
		a.mu.Lock()
		delete(a.conns, c)
		a.mu.Unlock()
	}()
	echo := strings.HasSuffix(r.URL.Path, "/echo")
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case f := <-c.out:
				_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := ws.WriteMessage(f.kind, f.data); err != nil {
					_ = ws.Close()
					return
				}
			case <-c.done:
				return
			}
		}
	}()
	defer func() {
		close(c.done)
		<-writerDone
		_ = ws.Close()
	}()
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		a.received.Add(1)
		a.mu.Lock()
		a.msgs = append(a.msgs, string(data))
		a.mu.Unlock()
		if echo {
			select {
			case c.out <- appFrame{kind, data}:
			default:
			}
		}
	}
}

// push queues a text message to every open connection.
func (a *wsApp) push(text string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for c := range a.conns {
		select {
		case c.out <- appFrame{websocket.TextMessage, []byte(text)}:
		default:
		}
	}
}

// pushTo queues a text message to the open connections on path.
func (a *wsApp) pushTo(path, text string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for c := range a.conns {
		if c.path != path {
			continue
		}
		select {
		case c.out <- appFrame{websocket.TextMessage, []byte(text)}:
		default:
		}
	}
}

// openOn counts the open connections on path.
func (a *wsApp) openOn(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for c := range a.conns {
		if c.path == path {
			n++
		}
	}
	return n
}

func (a *wsApp) open() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.conns)
}

func (a *wsApp) messages() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.msgs...)
}

func (a *wsApp) headers() []http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]http.Header(nil), a.hdrs...)
}

// forget drops what the app recorded (the soak measures the gateway's heap).
func (a *wsApp) forget() {
	a.mu.Lock()
	a.msgs, a.hdrs = nil, nil
	a.mu.Unlock()
}

func (a *wsApp) close() {
	a.srv.CloseClientConnections()
	a.srv.Close()
}

// gatedWSApp is a real WebSocket upstream that, once hold is set, keeps
// every handshake waiting until release: opens that the gateway lets
// through pile up at the upstream, where the test counts them.
type gatedWSApp struct {
	srv      *httptest.Server
	hold     atomic.Bool
	held     atomic.Int64 // handshakes that waited at the gate
	accepted atomic.Int64
	gate     chan struct{}
	once     sync.Once
}

func newGatedWSApp(t *testing.T) *gatedWSApp {
	a := &gatedWSApp{gate: make(chan struct{})}
	up := websocket.Upgrader{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.hold.Load() {
			a.held.Add(1)
			<-a.gate
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		a.accepted.Add(1)
		defer ws.Close()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		a.release()
		a.srv.CloseClientConnections()
		a.srv.Close()
	})
	return a
}

func (a *gatedWSApp) release() { a.once.Do(func() { close(a.gate) }) }

func (a *gatedWSApp) wsURL() string { return "ws" + strings.TrimPrefix(a.srv.URL, "http") + "/s" }

// httpApp is a plain HTTP upstream that records every request that
// reached it (path and a fully read body).
type httpApp struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	method, uri string
	header      http.Header
	body        string
	bodyErr     error
}

func newHTTPApp(t testing.TB) *httpApp {
	t.Helper()
	a := &httpApp{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		_, err := copyLimited(&b, r.Body, 1<<20)
		a.mu.Lock()
		a.reqs = append(a.reqs, seenRequest{method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), body: b.String(), bodyErr: err})
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("upstream saw " + r.Method + " " + r.RequestURI))
	}))
	t.Cleanup(func() {
		a.srv.CloseClientConnections()
		a.srv.Close()
	})
	return a
}

func (a *httpApp) forget() {
	a.mu.Lock()
	a.reqs = nil
	a.mu.Unlock()
}

func (a *httpApp) seen() []seenRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]seenRequest(nil), a.reqs...)
}

func copyLimited(dst io.Writer, src io.Reader, n int64) (int64, error) {
	return io.Copy(dst, io.LimitReader(src, n))
}
