package bridge_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/bridge/internal/ssetest"
	"github.com/bridgeway/bridgeway/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// deadline bounds every wait in these tests; it only prevents hangs.
const deadline = 30 * time.Second

// testUpstream is a real gorilla WebSocket app. Session mode: text
// commands "flood N", "bflood N", "say TEXT", "close CODE REASON"; anything
// else is echoed with its frame type. Broadcast: publish() sends to every
// connection.
type testUpstream struct {
	srv *httptest.Server

	mu       sync.Mutex
	conns    map[*websocket.Conn]bool
	opened   int                    // connections ever made
	received [][]byte               // non-command messages, in order
	closes   []websocket.CloseError // close frames received from the gateway
	headers  http.Header
	paths    []string
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, Subprotocols: []string{"chat.v2"}}

func newUpstream(t testing.TB) *testUpstream {
	u := &testUpstream{conns: map[*websocket.Conn]bool{}}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(func() {
		u.mu.Lock()
		for c := range u.conns {
			_ = c.Close()
		}
		u.mu.Unlock()
		u.srv.Close()
	})
	return u
}

func (u *testUpstream) url(path string) string {
	return "ws" + strings.TrimPrefix(u.srv.URL, "http") + path
}

func (u *testUpstream) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	u.mu.Lock()
	u.conns[ws] = true
	u.opened++
	u.headers = r.Header.Clone()
	u.paths = append(u.paths, r.URL.RequestURI())
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		delete(u.conns, ws)
		u.mu.Unlock()
		ws.Close()
	}()
	var writeMu sync.Mutex
	write := func(kind int, b []byte) error {
		writeMu.Lock()
		defer writeMu.Unlock()
		return ws.WriteMessage(kind, b)
	}
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				u.mu.Lock()
				u.closes = append(u.closes, *ce)
				u.mu.Unlock()
			}
			return
		}
		cmd, arg, _ := strings.Cut(string(data), " ")
		if kind == websocket.TextMessage {
			switch cmd {
			case "flood", "bflood":
				n, _ := strconv.Atoi(arg)
				for i := range n {
					if cmd == "flood" {
						err = write(websocket.TextMessage, []byte("m"+strconv.Itoa(i)))
					} else {
						err = write(websocket.BinaryMessage, binary.BigEndian.AppendUint32([]byte{0xff, 0}, uint32(i)))
					}
					if err != nil {
						return
					}
				}
				continue
			case "say":
				_ = write(websocket.TextMessage, []byte(arg))
				continue
			case "close":
				code, reason, _ := strings.Cut(arg, " ")
				c, _ := strconv.Atoi(code)
				writeMu.Lock()
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c, reason), time.Now().Add(time.Second))
				writeMu.Unlock()
				return
			}
		}
		u.mu.Lock()
		u.received = append(u.received, data)
		u.mu.Unlock()
		if write(kind, data) != nil {
			return
		}
	}
}

// publish sends a text message to every open connection (broadcast tests).
func (u *testUpstream) publish(text string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c := range u.conns {
		_ = c.WriteMessage(websocket.TextMessage, []byte(text))
	}
}

// dropAll cuts every open connection without a close frame (an upstream
// that went away).
func (u *testUpstream) dropAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c := range u.conns {
		_ = c.Close()
	}
}

// closesSeen is the close frames the upstream received, in order.
func (u *testUpstream) closesSeen() []websocket.CloseError {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.closes)
}

// receivedTexts is what the upstream got from its clients, in order.
func (u *testUpstream) receivedTexts() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, len(u.received))
	for i, b := range u.received {
		out[i] = string(b)
	}
	return out
}

func (u *testUpstream) stats() (open, opened, received int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conns), u.opened, len(u.received)
}

// waitFor polls cond (no timing assertion: the deadline only prevents hangs).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, deadline, what, cond)
}

// waitWithin is waitFor with a shorter bound, for a test whose failure is
// something that happens only much later (a default timer of 30 s).
func waitWithin(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type gateway struct {
	srv   *httptest.Server
	rh    *bridge.RouteHandler
	reg   *prometheus.Registry
	route config.Route
}

// sessionRoute is a session-mode route in front of up.
func sessionRoute(up *testUpstream) config.Route {
	return config.Route{
		Path:        "/chat",
		Upstream:    config.Upstream{URL: up.url("/app"), Kind: config.KindWebSocket, ForwardHeaders: []string{"Cookie", "Authorization"}},
		Mode:        config.ModeSession,
		Buffer:      1024,
		SessionTTL:  durationPtr(30 * time.Second),
		Heartbeat:   config.Duration(15 * time.Second),
		PollTimeout: config.Duration(25 * time.Second),
	}
}

func newGateway(t testing.TB, route config.Route, limits config.Limits) *gateway {
	t.Helper()
	reg := prometheus.NewRegistry()
	b := bridge.New(bridge.Deps{Logger: zap.NewNop(), Registry: reg, Limits: limits})
	rh, err := b.NewRoute(route)
	if err != nil {
		t.Fatal(err)
	}
	return &gateway{srv: newServer(t, rh), rh: rh, reg: reg, route: route}
}

// newServer serves rh; cleanup closes the route first (its clients and
// upstreams), then the server.
func newServer(t testing.TB, rh *bridge.RouteHandler) *httptest.Server {
	srv := httptest.NewServer(rh)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := rh.Close(ctx); err != nil {
			t.Errorf("route close: %v", err)
		}
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

func (g *gateway) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(g.srv.URL, "http") + path
}

// get issues a GET with optional headers.
func (g *gateway) get(t testing.TB, ctx context.Context, path string, hdr http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.srv.URL+path, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp
}

func (g *gateway) post(t testing.TB, path, contentType string, body []byte, hdr http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.srv.URL+path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", contentType)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return resp
}

// send posts one text message and expects 204.
func (g *gateway) send(t testing.TB, session, text string) {
	t.Helper()
	resp := g.post(t, "/chat/send?session="+session, "text/plain", []byte(text), nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("send %q: %d %s", text, resp.StatusCode, b)
	}
}

// jsonError reads {"error":...} and checks status and code.
func expectError(t testing.TB, resp *http.Response, status int, code string) {
	t.Helper()
	defer resp.Body.Close()
	var e struct{ Error, Message string }
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || json.Unmarshal(body, &e) != nil || e.Error != code || e.Message == "" {
		t.Fatalf("want %d %s, got %d %s", status, code, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error content type %q", ct)
	}
}

// message is the client-facing JSON message.
type message struct {
	ID     string `json:"id"`
	Event  string `json:"event"`
	Data   string `json:"data"`
	Binary bool   `json:"binary"`
}

type gapInfo struct{ From, To string }
type closeInfo struct {
	Code   int
	Reason string
}

type pollAnswer struct {
	Session  string     `json:"session"`
	Send     string     `json:"send"`
	Cursor   string     `json:"cursor"`
	Messages []message  `json:"messages"`
	Gap      *gapInfo   `json:"gap"`
	Closed   *closeInfo `json:"closed"`
}

func (g *gateway) poll(t testing.TB, ctx context.Context, query string, hdr http.Header) (pollAnswer, *http.Response) {
	t.Helper()
	resp := g.get(t, ctx, "/chat/poll"+query, hdr)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a pollAnswer
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("poll body %q: %v", body, err)
		}
	}
	return a, resp
}

// sseStream is an open SSE response read by the WHATWG parser.
type sseStream struct {
	resp *http.Response
	p    *ssetest.Parser
}

func (g *gateway) openSSE(t testing.TB, ctx context.Context, path string, hdr http.Header) *sseStream {
	t.Helper()
	h := http.Header{"Accept": {"text/event-stream"}}
	for k, v := range hdr {
		h[k] = v
	}
	resp := g.get(t, ctx, path, h)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("SSE %s: %d %s", path, resp.StatusCode, b)
	}
	return &sseStream{resp: resp, p: ssetest.NewParser(resp.Body)}
}

func (s *sseStream) next(t testing.TB) ssetest.Event {
	t.Helper()
	ev, err := s.p.Next()
	if err != nil {
		t.Fatalf("SSE read: %v", err)
	}
	return ev
}

// sessionEvent reads the first event of a session-mode SSE stream.
func (s *sseStream) session(t testing.TB) (id, send string) {
	t.Helper()
	ev := s.next(t)
	var info struct{ Session, Send string }
	if ev.Type != "session" || json.Unmarshal([]byte(ev.Data), &info) != nil || info.Session == "" {
		t.Fatalf("first event %+v, want session", ev)
	}
	return info.Session, info.Send
}

// A broadcast subscriber that came without a cursor first gets where it
// starts (docs/protocol.md 2): sseStart and wsStart read that start and
// return its cursor; isStartLine tells an NDJSON start line.

func (s *sseStream) start(t testing.TB) string {
	t.Helper()
	return sseStart(t, s.p)
}

func sseStart(t testing.TB, p *ssetest.Parser) string {
	t.Helper()
	ev, err := p.Next()
	if err != nil || ev.Type != "heartbeat" || ev.ID == "" {
		t.Fatalf("first event %+v %v, want the start: a heartbeat with an id", ev, err)
	}
	return ev.ID
}

func wsStart(t testing.TB, ws *websocket.Conn) string {
	t.Helper()
	var m struct {
		Cursor string `json:"cursor"`
	}
	if err := ws.ReadJSON(&m); err != nil || m.Cursor == "" {
		t.Fatalf("first frame %+v %v, want the start {\"cursor\":C}", m, err)
	}
	return m.Cursor
}

func isStartLine(l string) bool { return strings.HasPrefix(l, `{"cursor":`) }

// ndjson reads lines of a /stream response.
type ndjson struct {
	resp *http.Response
	sc   *bufio.Scanner
}

func (g *gateway) openStream(t testing.TB, ctx context.Context, query string, hdr http.Header) *ndjson {
	t.Helper()
	resp := g.get(t, ctx, "/chat/stream"+query, hdr)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 2<<20)
	return &ndjson{resp: resp, sc: sc}
}

// streamLine is any NDJSON line.
type streamLine struct {
	message
	Session string     `json:"session"`
	Gap     *gapInfo   `json:"gap"`
	Closed  *closeInfo `json:"closed"`
}

// next returns the next non-blank line.
func (n *ndjson) next(t testing.TB) streamLine {
	t.Helper()
	for n.sc.Scan() {
		line := strings.TrimSpace(n.sc.Text())
		if line == "" {
			continue
		}
		var l streamLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("stream line %q: %v", line, err)
		}
		return l
	}
	t.Fatalf("stream ended: %v", n.sc.Err())
	return streamLine{}
}

func dialWS(t testing.TB, url string, hdr http.Header) (*websocket.Conn, *http.Response) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: deadline}
	ws, resp, err := d.Dial(url, hdr)
	if err != nil {
		if resp != nil {
			return nil, resp
		}
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(deadline))
	return ws, resp
}

// mustDialWS dials and fails the test unless the handshake succeeds.
func mustDialWS(t testing.TB, url string, hdr http.Header) *websocket.Conn {
	t.Helper()
	ws, resp := dialWS(t, url, hdr)
	if ws == nil {
		t.Fatalf("dial %s: status %d", url, resp.StatusCode)
	}
	return ws
}

// expectStillPinged reads ws for d (gorilla answers each ping while
// ReadMessage waits) and fails with what if the connection ends meanwhile.
func expectStillPinged(t testing.TB, ws *websocket.Conn, d time.Duration, what string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(d))
	for {
		_, _, err := ws.ReadMessage()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return // still open, still pinged
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

func wantText(i int) string { return "m" + strconv.Itoa(i) }

func checkSeq(t testing.TB, got []string, n int, what string) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%s: got %d messages, want %d", what, len(got), n)
	}
	for i, s := range got {
		if s != wantText(i) {
			t.Fatalf("%s: message %d is %q, want %q", what, i, s, wantText(i))
		}
	}
}

// expectLine reads lines until one is want; the body's context ends the
// wait at the test's deadline.
func expectLine(t *testing.T, r *bufio.Reader, want, what string) {
	t.Helper()
	expectMatch(t, r, func(line string) bool { return line == want }, what)
}

// expectMatch reads lines until match says yes.
func expectMatch(t *testing.T, r *bufio.Reader, match func(string) bool, what string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if match(line) {
			return
		}
	}
}

var _ = fmt.Sprint

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func newScanner(resp *http.Response) *bufio.Scanner {
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 2<<20)
	return sc
}

// durationPtr is an explicit duration for a route's optional keys
// (session_ttl, idle_close: nil is the default).
func durationPtr(d time.Duration) *config.Duration {
	c := config.Duration(d)
	return &c
}
