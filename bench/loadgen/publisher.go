package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// publisher sends one message to the server under test.
type publisher interface {
	// waitReady blocks until a message published now can reach subscribers.
	waitReady(ctx context.Context) error
	publish(ctx context.Context, payload []byte) error
	close()
}

// httpPublisher POSTs each message to a URL (nchan's publisher location,
// Centrifugo's API, Pushpin's control port), in one of the publish formats.
type httpPublisher struct {
	url     string
	format  string
	channel string
	client  *http.Client
}

func newHTTPPublisher(u, format, channel string, concurrency int) *httpPublisher {
	return &httpPublisher{url: u, format: format, channel: channel, client: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: concurrency + 2, DisableCompression: true},
	}}
}

func (p *httpPublisher) waitReady(context.Context) error { return nil }

func (p *httpPublisher) publish(ctx context.Context, payload []byte) error {
	body, contentType, err := publishBody(p.format, p.channel, payload)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("publish: status %d", resp.StatusCode)
	}
	// Centrifugo's API answers 200 with {"error":{...}} when it refused.
	if p.format == PublishCentrifugo && bytes.Contains(answer, []byte(`"error"`)) {
		return fmt.Errorf("publish: %s", bytes.TrimSpace(answer))
	}
	return nil
}

func (p *httpPublisher) close() { p.client.CloseIdleConnections() }

// Upstream kinds the built-in upstream server can play.
const (
	UpstreamWebSocket = "websocket"
	UpstreamSSE       = "sse"
)

// upstreamServer is a tiny upstream for bridgeway's broadcast routes: the
// gateway connects to it (WebSocket or SSE, any path) and every published
// message is written to every connection it holds.
type upstreamServer struct {
	kind     string
	ln       net.Listener
	srv      *http.Server
	upgrader websocket.Upgrader

	mu      sync.Mutex
	ws      map[*websocket.Conn]struct{}
	sse     map[*sseUpstreamConn]struct{}
	changed chan struct{} // closed and replaced whenever a connection arrives
	done    chan struct{}
	wg      sync.WaitGroup
}

type sseUpstreamConn struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	gone    chan struct{}
	goneOne sync.Once
}

func startUpstreamServer(addr, kind string) (*upstreamServer, error) {
	if kind != UpstreamWebSocket && kind != UpstreamSSE {
		return nil, fmt.Errorf("upstream: unknown kind %q (websocket or sse)", kind)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("upstream: listen: %w", err)
	}
	u := &upstreamServer{
		kind:    kind,
		ln:      ln,
		ws:      map[*websocket.Conn]struct{}{},
		sse:     map[*sseUpstreamConn]struct{}{},
		changed: make(chan struct{}),
		done:    make(chan struct{}),
		upgrader: websocket.Upgrader{
			ReadBufferSize: 1024, WriteBufferSize: 4096,
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
	u.srv = &http.Server{Handler: http.HandlerFunc(u.serve), ReadHeaderTimeout: 10 * time.Second}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.srv.Serve(ln)
	}()
	return u, nil
}

func (u *upstreamServer) addr() string { return u.ln.Addr().String() }

func (u *upstreamServer) notifyLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
}

func (u *upstreamServer) serve(w http.ResponseWriter, r *http.Request) {
	if u.kind == UpstreamWebSocket {
		conn, err := u.upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader answered the client
		}
		u.mu.Lock()
		u.ws[conn] = struct{}{}
		u.notifyLocked()
		u.mu.Unlock()
		// Read until the gateway goes away so pings and closes are handled.
		for {
			if _, _, err := conn.NextReader(); err != nil {
				break
			}
		}
		u.mu.Lock()
		delete(u.ws, conn)
		u.mu.Unlock()
		conn.Close()
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	c := &sseUpstreamConn{w: w, rc: http.NewResponseController(w), gone: make(chan struct{})}
	c.rc.Flush()
	u.mu.Lock()
	u.sse[c] = struct{}{}
	u.notifyLocked()
	u.mu.Unlock()
	select {
	case <-r.Context().Done():
	case <-c.gone:
	case <-u.done:
	}
	u.mu.Lock()
	delete(u.sse, c)
	u.mu.Unlock()
}

// waitReady waits for the gateway's upstream connection.
func (u *upstreamServer) waitReady(ctx context.Context) error {
	for {
		u.mu.Lock()
		n, ch := len(u.ws)+len(u.sse), u.changed
		u.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return errors.New("upstream: the gateway did not connect to the bench upstream")
		}
	}
}

// publish writes to every connection the gateway holds. Writes happen under
// the lock: there is normally one connection, and it keeps order simple.
func (u *upstreamServer) publish(_ context.Context, payload []byte) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.ws)+len(u.sse) == 0 {
		return errors.New("upstream: no gateway connection")
	}
	deadline := time.Now().Add(5 * time.Second)
	for c := range u.ws {
		c.SetWriteDeadline(deadline)
		if err := c.WriteMessage(websocket.TextMessage, payload); err != nil {
			c.Close()
			delete(u.ws, c)
		}
	}
	for c := range u.sse {
		c.rc.SetWriteDeadline(deadline)
		_, err := fmt.Fprintf(c.w, "data: %s\n\n", payload)
		if err == nil {
			err = c.rc.Flush()
		}
		if err != nil {
			c.goneOne.Do(func() { close(c.gone) })
			delete(u.sse, c)
		}
	}
	return nil
}

func (u *upstreamServer) close() {
	close(u.done)
	u.mu.Lock()
	for c := range u.ws {
		c.Close()
	}
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	u.srv.Shutdown(ctx)
	u.srv.Close()
	u.wg.Wait()
}
