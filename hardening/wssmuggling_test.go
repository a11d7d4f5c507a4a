package hardening

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rawUpstream answers every request head with a fixed answer and records
// every byte it received on every connection, until Close.
type rawUpstream struct {
	ln     net.Listener
	answer func(r *http.Request) string
	wg     sync.WaitGroup

	mu    sync.Mutex
	bytes bytes.Buffer
	conns []net.Conn
}

func newRawUpstream(t *testing.T, answer func(r *http.Request) string) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, answer: answer}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.conns = append(u.conns, c)
			u.mu.Unlock()
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				u.serve(c)
			}()
		}
	}()
	t.Cleanup(u.close)
	return u
}

// recorder tees what the connection reads into the shared buffer.
type recorder struct {
	c net.Conn
	u *rawUpstream
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	r.u.mu.Lock()
	r.u.bytes.Write(p[:n])
	r.u.mu.Unlock()
	return n, err
}

func (u *rawUpstream) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(recorder{c, u})
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	_, _ = io.WriteString(c, u.answer(req))
	_, _ = io.Copy(io.Discard, br) // record whatever still comes
}

func (u *rawUpstream) received() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.bytes.String()
}

func (u *rawUpstream) close() {
	_ = u.ln.Close()
	u.mu.Lock()
	for _, c := range u.conns {
		_ = c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="
const wsAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" // for wsKey (RFC 6455 example)

// TestWebSocketUpgradeSmugglingRefused: the upstream answers a client's
// upgrade with something other than a valid 101. The client gets 502, its
// connection is closed, and the bytes it pipelined behind the handshake (a
// hidden request) never reach the upstream.
func TestWebSocketUpgradeSmugglingRefused(t *testing.T) {
	answers := map[string]string{
		"426":            "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n",
		"200":            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"forged 101":     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: Zm9yZ2VkIGFjY2VwdCBrZXk=\r\n\r\n",
		"101 no upgrade": "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + wsAccept + "\r\n\r\n",
		"101 h2c":        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + wsAccept + "\r\n\r\n",
		"101 unoffered subprotocol": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + wsAccept +
			"\r\nSec-WebSocket-Protocol: admin\r\n\r\n",
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			up := newRawUpstream(t, func(*http.Request) string { return answer })
			g := startGateway(t, passthroughYAML("http://"+up.ln.Addr().String()))
			c := g.rawConn(t)
			req := "GET /app/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n\r\n" +
				"GET /app/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), `"error":"bad_gateway"`) {
				t.Errorf("answer %d %s, want 502 bad_gateway", res.StatusCode, body)
			}
			rest := readAllUntilClosed(t, bufConn{c, br})
			if len(rest) > 0 {
				t.Errorf("more bytes after the refusal: %q", rest)
			}
			_ = g.stop()
			up.close()
			if got := up.received(); strings.Contains(got, "smuggled") {
				t.Errorf("the pipelined request reached the upstream: %q", got)
			}
		})
	}
}

// TestUpgradeH2CIsNotForwarded: Upgrade: h2c (and its HTTP2-Settings) is
// removed, the request proceeds as plain HTTP/1.1, no 101 comes back.
func TestUpgradeH2CIsNotForwarded(t *testing.T) {
	app := newHTTPApp(t)
	g := startGateway(t, passthroughYAML(app.srv.URL))
	res, _ := g.rawExchange(t, "GET /app/h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"+
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	if res == nil || res.StatusCode != http.StatusOK {
		t.Fatalf("answer %v, want 200 as plain HTTP", res)
	}
	seen := app.seen()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests", len(seen))
	}
	for _, h := range []string{"Upgrade", "Http2-Settings", "Connection"} {
		if v := seen[0].header.Get(h); v != "" && !(h == "Connection" && !strings.Contains(strings.ToLower(v), "upgrade")) {
			t.Errorf("upstream got %s: %q", h, v)
		}
	}
}

// TestForwardedHeadersAreSetByTheGateway: a client cannot spoof
// X-Forwarded-*/Forwarded, nor make the gateway drop X-Forwarded-For by
// naming it in Connection. Checked on a pass-through route and on the
// WebSocket handshake of a bridged session.
func TestForwardedHeadersAreSetByTheGateway(t *testing.T) {
	app := newHTTPApp(t)
	ws := newWSApp(t)
	g := startGateway(t, passthroughYAML(app.srv.URL)+
		"  - path: /chat\n    upstream: {url: \""+ws.wsURL("/echo")+"\"}\n")
	spoof := http.Header{
		"X-Forwarded-For":   {"6.6.6.6"},
		"X-Forwarded-Host":  {"evil.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=6.6.6.6;proto=https;host=evil.example"},
	}
	check := func(t *testing.T, h http.Header) {
		t.Helper()
		if got := h.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q, want [127.0.0.1]", got)
		}
		if got := h.Get("X-Forwarded-Proto"); got != "http" {
			t.Errorf("X-Forwarded-Proto %q", got)
		}
		if got := h.Get("X-Forwarded-Host"); got != g.addr {
			t.Errorf("X-Forwarded-Host %q, want %q", got, g.addr)
		}
		if got := h.Get("Forwarded"); got != "" {
			t.Errorf("Forwarded %q reached the upstream", got)
		}
	}

	t.Run("passthrough", func(t *testing.T) {
		for _, conn := range []string{"", "X-Forwarded-For", "close, X-Forwarded-For, X-Forwarded-Proto"} {
			req, _ := http.NewRequest("GET", g.URL+"/app/h", nil)
			req.Header = spoof.Clone()
			if conn != "" {
				req.Header.Set("Connection", conn)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			seen := app.seen()
			check(t, seen[len(seen)-1].header)
		}
	})
	t.Run("bridged websocket", func(t *testing.T) {
		h := spoof.Clone()
		h.Set("Connection", "X-Forwarded-For") // gorilla adds Upgrade itself
		h.Del("Connection")
		c, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/chat/ws", h)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		eventually(t, "upstream handshake", func() bool { return len(ws.headers()) == 1 })
		check(t, ws.headers()[0])
	})
}

// TestBridgedUpstreamForgedUpgrade: on a bridged route the gateway dials
// the upstream WebSocket itself; an answer that is not a valid 101 (426,
// 200, a forged accept key) fails the session open with 502 and nothing
// the client sends reaches the upstream.
func TestBridgedUpstreamForgedUpgrade(t *testing.T) {
	answers := map[string]string{
		"426":        "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n",
		"200":        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"forged 101": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: Zm9yZ2VkIGFjY2VwdCBrZXk=\r\n\r\n",
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			up := newRawUpstream(t, func(*http.Request) string { return answer })
			g := startGateway(t, "routes:\n  - path: /chat\n    upstream: {url: \"ws://"+up.ln.Addr().String()+"/x\", timeout: 2s}\n")
			expectError(t, "poll open", get(t, g.URL+"/chat/poll", nil), 502, "upstream_unavailable")
			ws, res, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/chat/ws", nil)
			if err == nil {
				_ = ws.WriteMessage(websocket.TextMessage, []byte("smuggled"))
				ws.Close()
				t.Fatalf("websocket opened over a refused upstream upgrade")
			}
			if res == nil || res.StatusCode != 502 {
				t.Errorf("websocket open: %v %v", res, err)
			}
			_ = g.stop()
			up.close()
			if got := up.received(); strings.Contains(got, "smuggled") {
				t.Errorf("client data reached the upstream: %q", got)
			}
		})
	}
}
