package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

// Hostile input on SockJS routes (docs/security.md).

// TestSockJSGuessedSessionID: SockJS ids are chosen by the client, so a
// session is bound to the credentials (Cookie, Authorization) of the
// request that opened it; another client using the id gets 404 on every
// endpoint, reads nothing and sends nothing.
func TestSockJSGuessedSessionID(t *testing.T) {
	up := newUpstream(t)
	s := newSockJS(t, sockjsRoute("/echo", up.url("/echo")), config.Limits{})
	url := s.base + "/000/" + newSID()
	owner := hdr("Cookie", "auth=alice")
	exchange(t, "open", "POST", url+"/xhr", "", owner, 200, "o\n")
	exchange(t, "send", "POST", url+"/xhr_send", `["mine"]`, owner, 204, "")
	waitFor(t, "the echo", func() bool { _, _, n := up.stats(); return n == 1 })

	for _, thief := range []http.Header{hdr("Cookie", "auth=mallory"), nil, hdr("Authorization", "Bearer x")} {
		for _, ep := range []string{"/xhr", "/xhr_streaming", "/xhr_send"} {
			if resp, body := do(t, "POST", url+ep, `["theirs"]`, thief); resp.StatusCode != 404 {
				t.Fatalf("%v on %s: %d %q, want 404", thief, ep, resp.StatusCode, body)
			}
		}
		if resp, _ := do(t, "GET", url+"/jsonp?c=x", "", thief); resp.StatusCode != 404 {
			t.Fatalf("%v on jsonp: %d, want 404", thief, resp.StatusCode)
		}
	}
	exchange(t, "the owner still reads its echo", "POST", url+"/xhr", "", owner, 200, "a[\"mine\"]\n")
	if _, _, n := up.stats(); n != 1 {
		t.Fatalf("upstream received %d messages, want only the owner's", n)
	}
}

// TestSockJSAppJSESSIONIDBinds: without cookie_needed a JSESSIONID cookie
// is the app's own (a Java app's login), so it binds the session like any
// other cookie and reaches the upstream; it was always left out, which left
// such sessions bound to nothing and the upstream without its login.
func TestSockJSAppJSESSIONIDBinds(t *testing.T) {
	up := newUpstream(t)
	route := sockjsRoute("/echo", up.url("/echo"))
	route.Upstream.ForwardHeaders = []string{"Cookie"}
	s := newSockJS(t, route, config.Limits{})
	url := s.base + "/000/" + newSID()
	owner := hdr("Cookie", "JSESSIONID=alice")
	exchange(t, "open", "POST", url+"/xhr", "", owner, 200, "o\n")
	waitFor(t, "the upstream", func() bool { _, opened, _ := up.stats(); return opened == 1 })
	up.mu.Lock()
	cookie := up.headers.Get("Cookie")
	up.mu.Unlock()
	if cookie != "JSESSIONID=alice" {
		t.Errorf("the upstream got Cookie %q, want the app's JSESSIONID", cookie)
	}
	if resp, body := do(t, "POST", url+"/xhr_send", `["theirs"]`, hdr("Cookie", "JSESSIONID=mallory")); resp.StatusCode != 404 {
		t.Fatalf("another JSESSIONID sent on the session: %d %q, want 404", resp.StatusCode, body)
	}
	exchange(t, "the owner sends", "POST", url+"/xhr_send", `["mine"]`, owner, 204, "")
	exchange(t, "the owner reads its echo", "POST", url+"/xhr", "", owner, 200, "a[\"mine\"]\n")
}

// TestSockJSBodyLimits: a send body over max_body_bytes, a message over
// max_message_bytes and a WebSocket frame over max_body_bytes are refused
// and nothing of them is forwarded.
func TestSockJSBodyLimits(t *testing.T) {
	up, s, url := openEchoSession(t, config.Limits{MaxBodyBytes: 4096, MaxMessageBytes: 1024})
	resp := start(t, "POST", url+"/xhr_send", `["`+strings.Repeat("x", 5000)+`"]`, nil)
	expectError(t, resp, http.StatusRequestEntityTooLarge, "body_too_large")
	resp = start(t, "POST", url+"/xhr_send", `["`+strings.Repeat("x", 2000)+`"]`, nil)
	expectError(t, resp, http.StatusRequestEntityTooLarge, "message_too_large")

	ws := mustDialWS(t, wsURL(s.base)+"/000/"+newSID()+"/websocket", nil)
	expectWS(t, ws, "o")
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["`+strings.Repeat("x", 5000)+`"]`))
	_, _, err := ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("oversized frame: %v, want close 1009", err)
	}
	if _, _, n := up.stats(); n != 0 {
		t.Fatalf("upstream received %d messages", n)
	}
}

// TestSockJSBatchLimit: one send holds at most max(max_batch_messages,
// max_body_bytes/16) messages: each is an upstream frame.
func TestSockJSBatchLimit(t *testing.T) {
	_, _, url := openEchoSession(t, config.Limits{MaxBodyBytes: 1600, MaxBatchMessages: 50})
	resp := start(t, "POST", url+"/xhr_send", "["+strings.TrimSuffix(strings.Repeat(`"",`, 101), ",")+"]", nil)
	expectError(t, resp, http.StatusRequestEntityTooLarge, "too_many_messages")
	exchange(t, "100 messages", "POST", url+"/xhr_send", "["+strings.TrimSuffix(strings.Repeat(`"",`, 100), ",")+"]", nil, 204, "")
}

// TestSockJSSessionCaps: new SockJS sessions count against
// max_sessions_per_ip and the route's session cap (max_connections).
func TestSockJSSessionCaps(t *testing.T) {
	up := newUpstream(t)
	s := newSockJS(t, sockjsRoute("/echo", up.url("/echo")), config.Limits{MaxSessionsPerIP: 2})
	for i := 0; i < 2; i++ {
		exchange(t, "open", "POST", s.base+"/000/"+newSID()+"/xhr", "", nil, 200, "o\n")
	}
	resp := start(t, "POST", s.base+"/000/"+newSID()+"/xhr", "", nil)
	expectError(t, resp, http.StatusTooManyRequests, "too_many_sessions_per_ip")

	b := broadcastSockJS(t, up, config.Limits{MaxSessionsPerIP: 1})
	exchange(t, "open", "POST", b.base+"/000/"+newSID()+"/xhr", "", nil, 200, "o\n")
	resp = start(t, "POST", b.base+"/000/"+newSID()+"/xhr", "", nil)
	expectError(t, resp, http.StatusTooManyRequests, "too_many_sessions_per_ip")

	c := newSockJS(t, sockjsRoute("/echo", up.url("/echo")), config.Limits{MaxConnections: 1, MaxSessionsPerIP: 0})
	exchange(t, "open", "POST", c.base+"/000/"+newSID()+"/xhr", "", nil, 200, "o\n")
	resp = start(t, "POST", c.base+"/000/"+newSID()+"/xhr", "", nil)
	expectError(t, resp, http.StatusServiceUnavailable, "too_many_sessions")
}

// TestSockJSOriginRefused: the route's origins apply to every session
// endpoint, /info and the WebSocket handshakes.
func TestSockJSOriginRefused(t *testing.T) {
	up := newUpstream(t)
	s := newSockJS(t, sockjsRoute("/echo", up.url("/echo")), config.Limits{})
	evil := hdr("Origin", "http://evil.example")
	resp := start(t, "GET", s.base+"/info", "", evil)
	expectError(t, resp, http.StatusForbidden, "origin_not_allowed")
	resp = start(t, "POST", s.base+"/000/"+newSID()+"/xhr", "", evil)
	expectError(t, resp, http.StatusForbidden, "origin_not_allowed")
	resp = start(t, "OPTIONS", s.base+"/000/"+newSID()+"/xhr", "", hdr("Origin", "http://evil.example", "Access-Control-Request-Method", "POST"))
	expectError(t, resp, http.StatusForbidden, "origin_not_allowed")
	for _, p := range []string{"/000/" + newSID() + "/websocket", "/websocket"} {
		if ws, resp := dialWS(t, wsURL(s.base)+p, evil); ws != nil || resp.StatusCode != 403 {
			t.Fatalf("%s from a refused origin: %v", p, resp)
		}
	}
	if _, opened, _ := up.stats(); opened != 0 {
		t.Fatalf("refused origins opened %d upstream connections", opened)
	}
}

// openEchoSession opens a SockJS session on an echo route with limits.
func openEchoSession(t *testing.T, limits config.Limits) (*testUpstream, *sockjsService, string) {
	t.Helper()
	up := newUpstream(t)
	s := newSockJS(t, sockjsRoute("/echo", up.url("/echo")), limits)
	url := s.base + "/000/" + newSID()
	exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
	return up, s, url
}
