package passthrough

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
)

// TestDotSegmentsRefused: a path that would climb out of the route on the
// upstream is refused, escaped or not, and never reaches the upstream.
func TestDotSegmentsRefused(t *testing.T) {
	reached := make(chan string, 8)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trySend(reached, r.RequestURI)
	}))
	defer up.Close()
	gw := newGateway(t, route("/app", up.URL+"/base"), nil)
	for _, p := range []string{"/app/../admin", "/app/%2e%2e/admin", "/app/x/%2E%2E%2F%2E%2E%2Fadmin", "/app/./x", "/app/.."} {
		res, body := rawRequest(t, hostOf(gw.srv), "GET "+p+" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
		expectJSONError(t, res, body, http.StatusBadRequest, "bad_path")
	}
	res, _ := rawRequest(t, hostOf(gw.srv), "GET /app/..x/.y HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
	if res.StatusCode != http.StatusOK {
		t.Errorf("dots inside names refused: %d", res.StatusCode)
	}
	if got := recv(t, reached); got != "/base/..x/.y" {
		t.Errorf("upstream saw %q", got)
	}
	select {
	case p := <-reached:
		t.Errorf("a dot-segment path reached the upstream: %q", p)
	default:
	}
}

func TestNewRejectsBadRoutes(t *testing.T) {
	for _, r := range []config.Route{
		route("/a", "ftp://up/x"),
		route("/a", "up/x"),
		route("/a/{id}", "http://{id}.up/x"),
		route("/a", "http://up/x/{id}"),
		route("/a", "http://user:pw@up/x"),
		route("/a", "http://up/x#frag"),
		route("a", "http://up/x"),
		route("/a", "http:///x"),
	} {
		if _, err := New(Options{Route: r, Logger: zap.NewNop()}); err == nil {
			t.Errorf("New(%s → %s) succeeded", r.Path, r.Upstream.URL)
		}
	}
}

// TestHeaders covers hop-by-hop stripping (both ways, including names
// listed in Connection), spoofed forwarding headers, route headers and h2c.
func TestHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		got <- h
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Resp-Kept", "yes")
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()

	rt := route("/app", up.URL)
	rt.Upstream.Headers = map[string]string{"X-Api-Key": "from-config"}
	gw := newGateway(t, rt, nil)

	req := "GET /app/x HTTP/1.1\r\nHost: public.example\r\n" +
		"Connection: keep-alive, X-Hop, Upgrade, HTTP2-Settings\r\n" +
		"X-Hop: must-not-pass\r\nKeep-Alive: 300\r\nProxy-Connection: keep-alive\r\n" +
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n" +
		"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n" +
		"Forwarded: for=6.6.6.6;proto=https\r\nX-Api-Key: spoofed\r\nX-End-To-End: kept\r\n\r\n"
	res, body := rawRequest(t, hostOf(gw.srv), req)
	if res.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	h := recv(t, got)

	for _, name := range []string{"X-Hop", "Keep-Alive", "Proxy-Connection", "Upgrade", "Http2-Settings", "Forwarded"} {
		if v, ok := h[name]; ok {
			t.Errorf("upstream got %s: %q", name, v)
		}
	}
	if c := h.Get("Connection"); strings.Contains(strings.ToLower(c), "upgrade") || strings.Contains(c, "X-Hop") {
		t.Errorf("upstream got Connection: %q", c)
	}
	want := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Host":  "public.example",
		"X-Forwarded-Proto": "http",
		"X-Api-Key":         "from-config",
		"X-End-To-End":      "kept",
		"Host":              hostOf(up),
	}
	for name, v := range want {
		if got := h.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("upstream %s = %q, want %q", name, got, v)
		}
	}
	for _, name := range []string{"X-Resp-Hop", "Keep-Alive"} {
		if v := res.Header.Get(name); v != "" {
			t.Errorf("client got %s: %q", name, v)
		}
	}
	if res.Header.Get("X-Resp-Kept") != "yes" {
		t.Errorf("end-to-end response header lost: %v", res.Header)
	}
}

// TestHostHeaderOverride: a route header named Host sets the upstream Host.
func TestHostHeaderOverride(t *testing.T) {
	got := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Host }))
	defer up.Close()
	rt := route("/", up.URL)
	rt.Upstream.Headers = map[string]string{"host": "internal.example"}
	gw := newGateway(t, rt, nil)
	res, _ := rawRequest(t, hostOf(gw.srv), "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
	if res.StatusCode != http.StatusOK {
		t.Fatal(res.Status)
	}
	if h := recv(t, got); h != "internal.example" {
		t.Errorf("upstream Host %q", h)
	}
}

// TestSSEStreamsBeforeUpstreamFinishes: the first event reaches the client
// while the upstream handler is still blocked.
func TestSSEStreamsBeforeUpstreamFinishes(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: second\n\n")
	}))
	defer up.Close()
	defer close(release)
	gw := newGateway(t, route("/events", up.URL), nil)

	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw.srv.URL+"/events", nil)
	res, err := gw.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	release <- struct{}{}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\ndata: second\n\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

// TestStreamingBodyOutlivesTimeout: Upstream.Timeout bounds waiting for
// headers only, never a long body.
func TestStreamingBodyOutlivesTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		for i := range 3 {
			time.Sleep(150 * time.Millisecond)
			_, _ = io.WriteString(w, strings.Repeat("x", i+1))
			w.(http.Flusher).Flush()
		}
	}))
	defer up.Close()
	rt := route("/s", up.URL)
	rt.Upstream.Timeout = config.Duration(50 * time.Millisecond)
	gw := newGateway(t, rt, nil)
	res, err := gw.srv.Client().Get(gw.srv.URL + "/s")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || string(body) != "xxxxxx" {
		t.Fatalf("body %q, %v", body, err)
	}
}

func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more

	gw := newGateway(t, route("/app", "http://"+addr), nil)
	res, body := rawRequest(t, hostOf(gw.srv), "GET /app/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
	expectJSONError(t, res, body, http.StatusBadGateway, "bad_gateway")
	if k := gw.errors.list(); !slices.Equal(k, []string{KindDial}) {
		t.Errorf("upstream error kinds %v", k)
	}
}

func TestSlowUpstreamTimesOut(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(release)
	rt := route("/slow", up.URL)
	rt.Upstream.Timeout = config.Duration(100 * time.Millisecond)
	gw := newGateway(t, rt, nil)
	res, body := rawRequest(t, hostOf(gw.srv), "GET /slow HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
	expectJSONError(t, res, body, http.StatusGatewayTimeout, "gateway_timeout")
	if k := gw.errors.list(); !slices.Equal(k, []string{KindTimeout}) {
		t.Errorf("upstream error kinds %v", k)
	}
}

// TestBrokenBodyAborts: once headers are out, an upstream failure aborts
// the client response instead of ending it as if complete.
func TestBrokenBodyAborts(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "only ten b")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer up.Close()
	gw := newGateway(t, route("/b", up.URL), nil)
	res, err := gw.srv.Client().Get(gw.srv.URL + "/b")
	if err != nil {
		return // aborted before the buffered headers were flushed: fine
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil {
		t.Fatalf("body read completed (%q); want an aborted response", body)
	}
}

func TestPostBodyForwarded(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+":"+string(b))
	}))
	defer up.Close()
	gw := newGateway(t, route("/p", up.URL), nil)
	res, err := gw.srv.Client().Post(gw.srv.URL+"/p", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if string(b) != "POST:hello" {
		t.Errorf("got %q", b)
	}
}
