package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Bursts an app sends at once when a connection opens, before its
// greeting; then it is quiet. /busy: a few hundred messages, like a busy
// app between bursts; /bulk: a backlog of 1,000 messages of about 400
// bytes (as JSON), like a client coming back from an offline spell.
const (
	busyBurst = 300
	bulkBurst = 1000
)

// burstMessage is "b:I:" and 64*hashes hex digits (a chain of SHA-256 of
// I): text that a compressing proxy cannot shrink much.
func burstMessage(i, hashes int) string {
	s := "b:" + strconv.Itoa(i) + ":"
	sum := sha256.Sum256([]byte(strconv.Itoa(i)))
	for range hashes {
		s += hex.EncodeToString(sum[:])
		sum = sha256.Sum256(sum[:])
	}
	return s
}

// appServer is the WebSocket application behind the gateway, written as an
// ordinary gorilla/websocket app that knows nothing of bridgeway. Each
// connection understands a few text commands:
//
//	burst:N     sends "n:1" … "n:N" at once
//	pace:N      sends "n:1" … "n:N", one every paceEvery
//	close:CODE  closes the connection with CODE and reason "bye"
//	anything    is echoed back as "echo:" + text; binary frames come back unchanged
//
// Every connection first gets "hi:1", which tells a test whether the
// messages an app sends at once when a session opens reach the client.
// Connections on /busy and /bulk first get a burst (burstMessage).
// Connections on /ticker instead receive "tick:1", "tick:2", … every tickEvery.
type appServer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	accepted map[string]int      // by path
	ended    map[string]int      // connections that ended, by path
	received map[string][]string // text frames received, by path, in order
	wg       sync.WaitGroup
	done     chan struct{}
}

const (
	paceEvery = time.Millisecond
	tickEvery = 20 * time.Millisecond
)

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func newAppServer(t *testing.T) *appServer {
	t.Helper()
	a := &appServer{done: make(chan struct{}), accepted: map[string]int{}, ended: map[string]int{}, received: map[string][]string{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(func() {
		close(a.done)
		a.srv.CloseClientConnections()
		a.srv.Close()
		a.wg.Wait()
	})
	return a
}

// URL is the ws:// base of the app.
func (a *appServer) URL() string { return "ws" + strings.TrimPrefix(a.srv.URL, "http") }

// Accepted counts WebSocket connections the app accepted on path.
func (a *appServer) Accepted(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accepted[path]
}

// Received lists the text frames the app received on path that start
// with prefix, in order (all its connections on path together).
func (a *appServer) Received(path, prefix string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var got []string
	for _, s := range a.received[path] {
		if strings.HasPrefix(s, prefix) {
			got = append(got, s)
		}
	}
	return got
}

// Ended counts WebSocket connections on path that have ended.
func (a *appServer) Ended(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ended[path]
}

func (a *appServer) serve(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	a.mu.Lock()
	a.accepted[r.URL.Path]++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.ended[r.URL.Path]++
		a.mu.Unlock()
	}()
	a.wg.Add(1)
	defer a.wg.Done()
	defer conn.Close()
	if r.URL.Path == "/ticker" {
		a.tick(conn)
		return
	}
	// One writer: the reader hands every outgoing frame to out.
	out := make(chan frame, 64)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for f := range out {
			if f.close != 0 {
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(f.close, "bye"), time.Now().Add(time.Second))
				return
			}
			if err := conn.WriteMessage(f.kind, f.data); err != nil {
				return
			}
		}
	}()
	defer func() { close(out); <-writerDone }()
	burst, hashes := 0, 0
	switch r.URL.Path {
	case "/busy":
		burst, hashes = busyBurst, 3
	case "/bulk":
		burst, hashes = bulkBurst, 5
	}
	for i := 1; i <= burst; i++ {
		out <- frame{kind: websocket.TextMessage, data: []byte(burstMessage(i, hashes))}
	}
	out <- frame{kind: websocket.TextMessage, data: []byte("hi:1")}
	for {
		kind, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if kind == websocket.TextMessage {
			a.mu.Lock()
			a.received[r.URL.Path] = append(a.received[r.URL.Path], string(data))
			a.mu.Unlock()
		}
		if !a.command(out, writerDone, kind, data) {
			return
		}
	}
}

type frame struct {
	kind  int
	data  []byte
	close int
}

// command handles one client frame; false ends the connection.
func (a *appServer) command(out chan<- frame, writerDone <-chan struct{}, kind int, data []byte) bool {
	send := func(f frame) bool {
		select {
		case out <- f:
			return true
		case <-writerDone:
			return false
		case <-a.done:
			return false
		}
	}
	text := string(data)
	if kind == websocket.BinaryMessage {
		return send(frame{kind: kind, data: data})
	}
	verb, arg, _ := strings.Cut(text, ":")
	n, _ := strconv.Atoi(arg)
	switch verb {
	case "burst", "pace":
		for i := 1; i <= n; i++ {
			if verb == "pace" {
				select {
				case <-time.After(paceEvery):
				case <-a.done:
					return false
				}
			}
			if !send(frame{kind: websocket.TextMessage, data: []byte(fmt.Sprintf("n:%d", i))}) {
				return false
			}
		}
		return true
	case "close":
		send(frame{close: n})
		return false
	}
	return send(frame{kind: websocket.TextMessage, data: []byte("echo:" + text)})
}

func (a *appServer) tick(conn *websocket.Conn) {
	go func() { // notice the peer going away
		for {
			if _, _, err := conn.NextReader(); err != nil {
				conn.Close()
				return
			}
		}
	}()
	ticker := time.NewTicker(tickEvery)
	defer ticker.Stop()
	for i := 1; ; i++ {
		select {
		case <-a.done:
			return
		case <-ticker.C:
		}
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := conn.WriteMessage(websocket.TextMessage, []byte("tick:"+strconv.Itoa(i))); err != nil {
			return
		}
	}
}
