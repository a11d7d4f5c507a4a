package hardening

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/freeport"
)

// keptConn is a keep-alive client connection from a chosen local address.
type keptConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialFrom(t *testing.T, g *gateway, localIP string) *keptConn {
	t.Helper()
	return dialAddr(t, g.addr, localIP)
}

// dialAddr opens a keep-alive connection to addr (a listener of the
// gateway) from localIP; any of 127/8 is loopback on Linux.
func dialAddr(t *testing.T, addr, localIP string) *keptConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, localIP, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &keptConn{c: c, br: bufio.NewReader(c)}
}

// expectWSRefused dials a WebSocket from localIP and wants the handshake
// refused with status.
func expectWSRefused(t *testing.T, g *gateway, localIP, path string, status int, what string) {
	t.Helper()
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
		return nd.Dial(network, addr)
	}}
	if ws, res, err := d.Dial("ws://"+g.addr+path, nil); err == nil {
		ws.Close()
		t.Errorf("%s: opened", what)
	} else if res == nil || res.StatusCode != status {
		t.Errorf("%s: %v %v", what, res, err)
	}
}

// get sends a keep-alive GET and reads the answer.
func (k *keptConn) get(t *testing.T, path string) answer {
	t.Helper()
	if _, err := io.WriteString(k.c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return answer{status: -1}
	}
	res, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return answer{status: -1}
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// TestConnectionLimits: beyond max_connections_per_ip a client gets 429,
// beyond max_connections 503 (JSON, Retry-After); admitted connections
// keep working and a freed slot is usable again.
func TestConnectionLimits(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "limits: {max_connections: 6, max_connections_per_ip: 3}\n"+bridgedYAML(app))
	var held []*keptConn
	admit := func(ip string) {
		k := dialFrom(t, g, ip)
		if a := k.get(t, "/feed/poll"); a.status != 200 {
			t.Fatalf("admitted connection from %s: %d %s", ip, a.status, a.body)
		}
		held = append(held, k)
	}
	for range 3 {
		admit("127.0.0.1")
	}
	perIP := dialFrom(t, g, "127.0.0.1").get(t, "/feed/poll")
	expectError(t, "fourth from one address", perIP, 429, "too_many_connections_per_ip")
	if perIP.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	for range 3 {
		admit("127.0.0.2")
	}
	total := dialFrom(t, g, "127.0.0.3").get(t, "/feed/poll")
	expectError(t, "beyond max_connections", total, 503, "too_many_connections")
	if total.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	// The admitted connections are still served.
	for _, k := range held {
		if a := k.get(t, "/feed/poll?wait=0"); a.status != 200 {
			t.Errorf("held connection answered %d", a.status)
		}
	}
	if n := g.metric("bridgeway_proxy_rejected_connections_total", `reason="max_connections_per_ip"`); n < 1 {
		t.Errorf("per-IP rejections counted %v", n)
	}
	if n := g.metric("bridgeway_proxy_rejected_connections_total", `reason="max_connections"`); n < 1 {
		t.Errorf("total rejections counted %v", n)
	}
	// A freed slot is usable again.
	_ = held[0].c.Close()
	eventually(t, "a slot to free up", func() bool {
		return g.metric("bridgeway_proxy_open_connections") == 5
	})
	if a := dialFrom(t, g, "127.0.0.1").get(t, "/feed/poll?wait=0"); a.status != 200 {
		t.Errorf("after a slot was freed: %d %s", a.status, a.body)
	}
}

// TestSessionFloodBounded: one client opening sessions without end (each
// costs an upstream connection) is stopped at the route's session cap
// (limits.max_connections) with 503 too_many_sessions; the open sessions
// keep working and capacity comes back when sessions end.
func TestSessionFloodBounded(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "limits: {max_connections: 10}\nroutes:\n  - path: /s\n    session_ttl: 3s\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n")
	k := dialFrom(t, g, "127.0.0.1") // one keep-alive connection
	var first pollAnswer
	for i := range 10 {
		a := k.get(t, "/s/poll")
		if a.status != 200 {
			t.Fatalf("session %d: %d %s", i, a.status, a.body)
		}
		if i == 0 {
			first = decodePoll(t, a)
		}
	}
	expectError(t, "eleventh session", k.get(t, "/s/poll"), 503, "too_many_sessions")
	if n := app.open(); n > 10 {
		t.Errorf("%d upstream connections for 10 sessions", n)
	}
	// An open session still answers.
	if a := k.get(t, "/s/poll?wait=0&cursor="+first.Cursor); a.status != 200 {
		t.Errorf("open session during the flood: %d", a.status)
	}
	// Sessions expire (session_ttl) and the cap frees up.
	eventually(t, "sessions to expire", func() bool { return g.metric("bridgeway_bridge_sessions_open") == 0 })
	if a := k.get(t, "/s/poll"); a.status != 200 {
		t.Errorf("after expiry: %d %s", a.status, a.body)
	}
}

// (session_ttl is 3 s in these two tests: long enough that no session
// expires between opening the last one and checking the cap on a loaded
// machine, short enough to wait for them all to expire.)

// TestSessionsPerIPBounded: with max_sessions_per_ip one address cannot
// open more sessions (each an upstream connection) than the cap, over any
// transport: 429 too_many_sessions_per_ip with Retry-After, and no upstream
// connection for the refused ones. Other addresses are not affected, the
// address's open sessions keep working, and ended sessions give their
// place back.
func TestSessionsPerIPBounded(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "limits: {max_sessions_per_ip: 3}\nroutes:\n"+
		"  - path: /s\n    session_ttl: 3s\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n"+
		"  - path: /dead\n    upstream: {url: \"ws://"+freeport.Refusing(t)+"/nobody\", timeout: 2s}\n")
	k := dialFrom(t, g, "127.0.0.1")
	// Failed opens give their place back: more than the cap of them are
	// all answered 502, not 429.
	for i := range 5 {
		expectError(t, fmt.Sprintf("failed open %d", i), k.get(t, "/dead/poll"), 502, "upstream_unavailable")
	}
	var first pollAnswer
	for i := range 3 {
		a := k.get(t, "/s/poll")
		if a.status != 200 {
			t.Fatalf("session %d: %d %s", i, a.status, a.body)
		}
		if i == 0 {
			first = decodePoll(t, a)
		}
	}
	eventually(t, "3 upstream connections", func() bool { return app.accepted.Load() == 3 })
	refused := k.get(t, "/s/poll")
	expectError(t, "fourth session by poll", refused, 429, "too_many_sessions_per_ip")
	if refused.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	expectError(t, "fourth session by SSE", k.get(t, "/s/sse"), 429, "too_many_sessions_per_ip")
	expectWSRefused(t, g, "127.0.0.1", "/s/ws", 429, "fourth session by WebSocket")
	if n := app.accepted.Load(); n != 3 {
		t.Errorf("refused sessions opened %d upstream connections", n-3)
	}
	// The address's open sessions still answer; another address opens one.
	if a := k.get(t, "/s/poll?wait=0&cursor="+first.Cursor); a.status != 200 {
		t.Errorf("open session at the cap: %d %s", a.status, a.body)
	}
	if a := dialFrom(t, g, "127.0.0.2").get(t, "/s/poll"); a.status != 200 {
		t.Errorf("another address: %d %s", a.status, a.body)
	}
	// Sessions expire (session_ttl) and give their places back.
	eventually(t, "sessions to expire", func() bool { return g.metric("bridgeway_bridge_sessions_open") == 0 })
	for i := range 3 {
		if a := k.get(t, "/s/poll"); a.status != 200 {
			t.Fatalf("after expiry, session %d: %d %s", i, a.status, a.body)
		}
	}
}

// TestOversizedRequestsRefused: headers beyond max_header_bytes get 431,
// /send bodies beyond max_body_bytes 413 body_too_large, a message beyond
// max_message_bytes 413 message_too_large; none reaches the upstream.
func TestOversizedRequestsRefused(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "limits: {max_header_bytes: 4KiB, max_body_bytes: 8KiB, max_message_bytes: 1KiB}\n"+bridgedYAML(app))
	res, _ := g.rawExchange(t, "GET /chat/poll HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 16<<10)+"\r\n\r\n")
	if res == nil || res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: %v", res)
	} else if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("431 Content-Type %q", ct)
	}
	p := decodePoll(t, get(t, g.URL+"/chat/poll", nil))
	expectError(t, "big body", do(t, "POST", g.URL+"/chat/send?session="+p.Session, nil, strings.Repeat("b", 9<<10)), 413, "body_too_large")
	expectError(t, "big message", do(t, "POST", g.URL+"/chat/send?session="+p.Session, nil, strings.Repeat("m", 2<<10)), 413, "message_too_large")
	expectError(t, "big message in a batch", do(t, "POST", g.URL+"/chat/send?session="+p.Session,
		http.Header{"Content-Type": {"application/json"}}, `{"messages":["ok","`+strings.Repeat("m", 2<<10)+`"]}`), 413, "message_too_large")
	if got := sentBefore(t, g, app, p.Session); len(got) != 0 {
		t.Errorf("the upstream received %d refused messages", len(got))
	}
}

// TestSendBatchCountBounded: a JSON /send batch is capped at
// max_batch_messages (default 100): the 1 MiB body of empty
// strings (about 350,000 messages, each an upstream frame) and a batch of
// 101 get 413 too_many_messages and nothing reaches the upstream; a batch
// of 100 goes through whole.
func TestSendBatchCountBounded(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	p := decodePoll(t, get(t, g.URL+"/chat/poll", nil))
	batch := func(n int) string {
		return `{"messages":[` + strings.TrimSuffix(strings.Repeat(`"",`, n), ",") + `]}`
	}
	send := func(body string) answer {
		return do(t, "POST", g.URL+"/chat/send?session="+p.Session, http.Header{"Content-Type": {"application/json"}}, body)
	}
	flood := batch((1<<20 - 20) / 3)
	expectError(t, "1 MiB of empty messages", send(flood), 413, "too_many_messages")
	expectError(t, "101 messages", send(batch(config.DefaultMaxBatchMessages+1)), 413, "too_many_messages")
	if got := sentBefore(t, g, app, p.Session); len(got) != 0 {
		t.Errorf("refused batches sent %d messages upstream", len(got))
	}
	if a := send(batch(config.DefaultMaxBatchMessages)); a.status != 204 {
		t.Fatalf("a batch of 100: %d %s", a.status, a.body)
	}
	if got := sentBefore(t, g, app, p.Session); len(got) != 100 {
		t.Errorf("upstream received %d messages, want 100", len(got))
	}
}
