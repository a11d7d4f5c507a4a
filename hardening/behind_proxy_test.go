package hardening

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/internal/revproxytest"
)

// Addresses on the loopback network (all of 127/8 is local on Linux): the
// reverse proxy listens on proxyIP and reaches the gateway from
// proxyOutIP, the only address in trusted_proxies; clients come from
// their own addresses, so the gateway can tell them from the proxy.
const (
	proxyIP    = "127.0.0.2"
	proxyOutIP = "127.0.0.3"
	clientA    = "127.0.0.5"
	clientB    = "127.0.0.6"
)

// viaProxy is a client at local address from that reaches every URL
// through the reverse proxy at proxyAddr (so URLs name the public host).
func viaProxy(from, proxyAddr string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		return d.DialContext(ctx, network, proxyAddr)
	}
}

// TestBehindNginx and TestBehindHAProxy put the real reverse proxy, with
// the configuration docs/operations.md gives (internal/revproxytest), in
// front of the gateway, and check that the library's transports work
// through it: WebSocket, SSE, and long-poll + send, each with the page's
// Origin checked against how the page reached the gateway (the public
// name, whatever Host the proxy sends); that the gateway logs, limits and
// forwards the real client address (a spoofed X-Forwarded-For from the
// client changes nothing); and that without trusted_proxies the same
// traffic is refused, as the docs warn.
func TestBehindNginx(t *testing.T) { testBehindProxy(t, "nginx", revproxytest.Nginx) }

func TestBehindHAProxy(t *testing.T) { testBehindProxy(t, "haproxy", revproxytest.HAProxy) }

func testBehindProxy(t *testing.T, program string, start func(testing.TB, revproxytest.Options) string) {
	app := newWSApp(t)
	g, logs := startLoggedGateway(t, "trusted_proxies: ["+proxyOutIP+"]\nhosts: [gw.test]\nlimits: {max_sessions_per_ip: 2}\n"+
		"routes:\n  - path: /chat\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n")
	proxyAddr := start(t, revproxytest.Options{ListenIP: proxyIP, Gateway: g.addr, BindFrom: proxyOutIP})
	_, port, _ := net.SplitHostPort(proxyAddr)
	public := "gw.test:" + port
	page := http.Header{"Origin": {"http://" + public}}
	clientOf := func(from string) *http.Client {
		return &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: viaProxy(from, proxyAddr)}}
	}
	a, b := clientOf(clientA), clientOf(clientB)

	// WebSocket (client A): the proxy passes the upgrade, the echo comes back.
	d := websocket.Dialer{NetDialContext: viaProxy(clientA, proxyAddr), HandshakeTimeout: 10 * time.Second}
	ws, res, err := d.Dial("ws://"+public+"/chat/ws", page)
	if err != nil {
		t.Fatalf("websocket through %s: %v %v", program, res, err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("over ws")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := ws.ReadMessage(); err != nil || string(got) != "over ws" {
		t.Fatalf("websocket echo: %q %v", got, err)
	}

	// SSE (client A) with a send by POST: the event arrives unbuffered.
	req, _ := http.NewRequest("GET", "http://"+public+"/chat/sse", nil)
	req.Header = page.Clone()
	req.Header.Set("Accept", "text/event-stream")
	res, err = a.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("sse through %s: %v %v", program, res, err)
	}
	sse := &sseStream{res: res, br: bufio.NewReader(res.Body), cancel: func() {}}
	defer sse.close()
	id, _ := sessionOf(t, sse)
	if code := post(t, a, "http://"+public+"/chat/send?session="+id, page, "over sse"); code != 204 {
		t.Fatalf("send through %s: %d", program, code)
	}
	if ev := sse.nextEvent(t, "message"); ev.data != "over sse" {
		t.Fatalf("sse event %q", ev.data)
	}

	// Client A has two sessions: a third is refused, also when A claims
	// another address; client B still opens one, by long-poll, and sends.
	spoofed := page.Clone()
	spoofed.Set("X-Forwarded-For", "198.51.100.1")
	expectError(t, "client A's third session", getWith(t, a, "http://"+public+"/chat/poll?wait=0", spoofed), 429, "too_many_sessions_per_ip")
	poll := getWith(t, b, "http://"+public+"/chat/poll?wait=0", page)
	if poll.status != 200 {
		t.Fatalf("client B's long-poll: %d %s", poll.status, poll.body)
	}
	opened := decodePoll(t, poll)
	if code := post(t, b, "http://"+public+opened.sendPath(), page, "over poll"); code != 204 {
		t.Fatalf("client B's send: %d", code)
	}
	got := getWith(t, b, "http://"+public+"/chat/poll?cursor="+opened.Cursor, page)
	if msgs := decodePoll(t, got).data(); len(msgs) != 1 || msgs[0] != "over poll" {
		t.Fatalf("client B's long-poll answer: %d %s", got.status, got.body)
	}
	expectError(t, "a foreign page through the proxy",
		getWith(t, b, "http://"+public+"/chat/poll?wait=0", http.Header{"Origin": {"http://evil.test:" + port}}), 403, "origin_not_allowed")

	// What the gateway saw: the real clients, never the proxy or the spoof.
	eventually(t, "3 upstream sessions", func() bool { return app.accepted.Load() >= 3 })
	var fwd []string
	for _, h := range app.headers() {
		fwd = append(fwd, h.Get("X-Forwarded-For")+" "+h.Get("X-Forwarded-Proto")+"://"+h.Get("X-Forwarded-Host"))
	}
	sort.Strings(fwd) // upstream handshakes may finish in any order
	want := clientA + " http://" + public + "|" + clientA + " http://" + public + "|" + clientB + " http://" + public
	if strings.Join(fwd, "|") != want {
		t.Errorf("upstream X-Forwarded-*: %q, want %q", strings.Join(fwd, "|"), want)
	}
	// A line is written when its handler returns, which the client may
	// not wait for.
	eventually(t, "4 access lines for /chat/poll", func() bool { return len(accessRemotes(logs, "/chat/poll")) == 4 })
	for _, path := range []string{"/chat/poll", "/chat/send"} {
		for _, r := range accessRemotes(logs, path) {
			if r != clientA && r != clientB {
				t.Errorf("access log of %s: remote %q, want a client's address", path, r)
			}
		}
	}

	// The same proxy in front of a gateway that does not trust it: the
	// page is refused (Host is the gateway's address, or the proxy's
	// headers are ignored), as docs/operations.md warns.
	plain := startGateway(t, "routes:\n  - path: /chat\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n")
	if program == "nginx" { // nginx rewrites Host; HAProxy keeps it
		other := start(t, revproxytest.Options{ListenIP: proxyIP, Gateway: plain.addr, BindFrom: proxyOutIP})
		_, otherPort, _ := net.SplitHostPort(other)
		c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: viaProxy(clientA, other)}}
		expectError(t, "untrusted nginx rewriting Host",
			getWith(t, c, "http://gw.test:"+otherPort+"/chat/poll?wait=0", http.Header{"Origin": {"http://gw.test:" + otherPort}}), 403, "origin_not_allowed")
	}
}

func getWith(t *testing.T, c *http.Client, url string, hdr http.Header) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header = hdr.Clone()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	var sb strings.Builder
	_, _ = copyLimited(&sb, res.Body, 1<<20)
	return answer{status: res.StatusCode, header: res.Header, body: sb.String()}
}

func post(t *testing.T, c *http.Client, url string, hdr http.Header, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header = hdr.Clone()
	req.Header.Set("Content-Type", "text/plain")
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// sendPath is the answer's send URL path, from the session id.
func (p pollAnswer) sendPath() string { return "/chat/send?session=" + p.Session }
