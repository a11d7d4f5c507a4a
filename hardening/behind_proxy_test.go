package hardening

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/internal/testdeps"
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

// nginxConf is the snippet of docs/operations.md ("Behind nginx / HAProxy
// / an ingress") around a test's addresses. Host is left at nginx's
// default ($proxy_host: the gateway's address), the case that used to be
// refused 403.
const nginxConf = `daemon off;
master_process off;
pid {{DIR}}/nginx.pid;
error_log {{DIR}}/error.log warn;
events { worker_connections 256; }
http {
  access_log {{DIR}}/access.log;
  client_body_temp_path {{DIR}}/body;
  proxy_temp_path {{DIR}}/proxy;
  fastcgi_temp_path {{DIR}}/fastcgi;
  uwsgi_temp_path {{DIR}}/uwsgi;
  scgi_temp_path {{DIR}}/scgi;

  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }
  server {
    listen {{LISTEN}};
    location / {
      proxy_pass http://{{GATEWAY}};
      proxy_bind {{OUT}};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
`

// haproxyConf is the HAProxy snippet of docs/operations.md.
const haproxyConf = `global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
frontend web
  bind {{LISTEN}}
  option forwardfor
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend bridgeway
backend bridgeway
  server gw {{GATEWAY}} source {{OUT}}
`

// startReverseProxy writes conf (placeholders filled) to a temporary
// folder, starts the program on a free port of proxyIP in the foreground
// and returns that address once it accepts connections. The process is
// killed when the test ends.
func startReverseProxy(t *testing.T, program, conf, gatewayAddr string, args func(dir, file string) []string) string {
	t.Helper()
	path := testdeps.LookPath(t, program, "/usr/sbin/"+program)
	ln, err := net.Listen("tcp", proxyIP+":0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	listen := ln.Addr().String()
	_ = ln.Close()
	dir := t.TempDir()
	conf = strings.NewReplacer("{{DIR}}", dir, "{{LISTEN}}", listen, "{{GATEWAY}}", gatewayAddr, "{{OUT}}", proxyOutIP).Replace(conf)
	file := filepath.Join(dir, program+".conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args(dir, file)...)
	out, _ := os.Create(filepath.Join(dir, "output.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", program, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = out.Close()
	})
	eventually(t, program+" accepting on "+listen, func() bool {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "output.log"))
			t.Fatalf("%s exited: %s", program, b)
		default:
		}
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	return listen
}

// viaProxy is a client at local address from that reaches every URL
// through the reverse proxy at proxyAddr (so URLs name the public host).
func viaProxy(from, proxyAddr string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		return d.DialContext(ctx, network, proxyAddr)
	}
}

// TestBehindNginx and TestBehindHAProxy put the real reverse proxy, with
// the configuration docs/operations.md gives, in front of the gateway, and
// check that the library's transports work through it: WebSocket, SSE, and
// long-poll + send, each with the page's Origin checked against how the
// page reached the gateway (the public name, whatever Host the proxy
// sends); that the gateway logs, limits and forwards the real client
// address (a spoofed X-Forwarded-For from the client changes nothing); and
// that without trusted_proxies the same traffic is refused, as the docs
// warn.
func TestBehindNginx(t *testing.T) {
	testBehindProxy(t, "nginx", nginxConf, func(dir, file string) []string { return []string{"-p", dir, "-c", file} })
}

func TestBehindHAProxy(t *testing.T) {
	testBehindProxy(t, "haproxy", haproxyConf, func(_, file string) []string { return []string{"-db", "-f", file} })
}

func testBehindProxy(t *testing.T, program, conf string, args func(dir, file string) []string) {
	app := newWSApp(t)
	g, logs := startLoggedGateway(t, "trusted_proxies: ["+proxyOutIP+"]\nhosts: [gw.test]\nlimits: {max_sessions_per_ip: 2}\n"+
		"routes:\n  - path: /chat\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n")
	proxyAddr := startReverseProxy(t, program, conf, g.addr, args)
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
		other := startReverseProxy(t, program, conf, plain.addr, args)
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
