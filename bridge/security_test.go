package bridge_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

func TestCredentialBinding(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	alice := http.Header{"Cookie": {"sid=alice"}}
	first, _ := g.poll(t, ctx, "", alice)
	q := "?wait=0&cursor=" + first.Cursor
	if a, resp := g.poll(t, ctx, q, alice); resp.StatusCode != http.StatusOK || a.Session != first.Session {
		t.Fatalf("same credentials: %d", resp.StatusCode)
	}
	for _, h := range []http.Header{nil, {"Cookie": {"sid=mallory"}}, {"Cookie": {"sid=alice"}, "Authorization": {"Bearer x"}}} {
		expectError(t, g.get(t, ctx, "/chat/poll"+q, h), http.StatusForbidden, "credentials_mismatch")
		expectError(t, g.post(t, "/chat/send?session="+first.Session, "text/plain", []byte("hi"), h), http.StatusForbidden, "credentials_mismatch")
		resp := g.get(t, ctx, "/chat/sse?lastEventId="+first.Cursor, h)
		expectError(t, resp, http.StatusForbidden, "credentials_mismatch")
	}
	bearer := http.Header{"Authorization": {"Bearer t0k"}}
	s2, _ := g.poll(t, ctx, "", bearer)
	expectError(t, g.get(t, ctx, "/chat/stream?cursor="+s2.Cursor, http.Header{"Authorization": {"Bearer other"}}), http.StatusForbidden, "credentials_mismatch")
}

func TestOrigins(t *testing.T) {
	up := newUpstream(t)
	route := sessionRoute(up)
	route.Origins = []string{"https://app.example.com"}
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	evil := http.Header{"Origin": {"https://evil.example"}}
	expectError(t, g.get(t, ctx, "/chat/poll", evil), http.StatusForbidden, "origin_not_allowed")
	expectError(t, g.get(t, ctx, "/chat/sse", evil), http.StatusForbidden, "origin_not_allowed")
	expectError(t, g.get(t, ctx, "/chat/stream", evil), http.StatusForbidden, "origin_not_allowed")
	expectError(t, g.post(t, "/chat/send?session=x", "text/plain", nil, evil), http.StatusForbidden, "origin_not_allowed")
	if ws, resp := dialWS(t, g.wsURL("/chat"), evil); ws != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket from a refused origin: %v", resp.Status)
	}
	if _, _, opened := up.stats(); opened != 0 {
		t.Fatalf("a refused request dialled the upstream")
	}

	// An allowed cross origin gets CORS headers; same origin gets none.
	good := http.Header{"Origin": {"https://app.example.com"}}
	a, resp := g.poll(t, ctx, "", good)
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers %v", resp.Header)
	}
	_, resp = g.poll(t, ctx, "?wait=0&cursor="+a.Cursor, http.Header{"Origin": {g.srv.URL}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("same origin: %d %v", resp.StatusCode, resp.Header)
	}
	// Preflight for /send.
	req, _ := http.NewRequest(http.MethodOptions, g.srv.URL+"/chat/send?session="+a.Session, nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != http.StatusNoContent || !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		pre.Header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Fatalf("preflight: %d %v", pre.StatusCode, pre.Header)
	}
}

func TestBadInput(t *testing.T) {
	up := newUpstream(t)
	route := sessionRoute(up)
	route.Transports = []string{"sse", "longpoll", "poll", "stream"}
	g := newGateway(t, route, config.Limits{MaxMessageBytes: 100, MaxBodyBytes: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "", nil)

	for _, c := range []string{"garbage", "a-b-", "x-01", first.Session + "-999999"} {
		expectError(t, g.get(t, ctx, "/chat/poll?cursor="+c, nil), http.StatusBadRequest, "bad_cursor")
	}
	expectError(t, g.get(t, ctx, "/chat/sse", http.Header{"Last-Event-ID": {"not a cursor"}}), http.StatusBadRequest, "bad_cursor")
	expectError(t, g.get(t, ctx, "/chat/poll?session=other&cursor="+first.Cursor, nil), http.StatusBadRequest, "bad_cursor")
	// A well-formed cursor of a session that does not exist.
	expectError(t, g.get(t, ctx, "/chat/poll?cursor=AAAAAAAAAAAAAAAAAAAAAA-3", nil), http.StatusNotFound, "session_not_found")
	expectError(t, g.get(t, ctx, "/chat/poll?session=nope", nil), http.StatusNotFound, "session_not_found")
	expectError(t, g.post(t, "/chat/send?session=nope", "text/plain", []byte("x"), nil), http.StatusNotFound, "session_not_found")
	expectError(t, g.post(t, "/chat/send", "text/plain", []byte("x"), nil), http.StatusBadRequest, "missing_session")

	send := "/chat/send?session=" + first.Session
	expectError(t, g.post(t, send, "text/plain", bytes.Repeat([]byte("x"), 101), nil), http.StatusRequestEntityTooLarge, "message_too_large")
	expectError(t, g.post(t, send, "text/plain", bytes.Repeat([]byte("x"), 1001), nil), http.StatusRequestEntityTooLarge, "body_too_large")
	expectError(t, g.post(t, send, "application/json", []byte(`{"messages":"nope"}`), nil), http.StatusBadRequest, "bad_body")
	expectError(t, g.post(t, send, "image/png", []byte("x"), nil), http.StatusUnsupportedMediaType, "unsupported_content_type")
	expectError(t, g.post(t, send+"&seq=-1", "text/plain", []byte("x"), nil), http.StatusBadRequest, "bad_seq")

	// Transports not listed answer 404; so do unknown endpoints.
	expectError(t, g.get(t, ctx, "/chat/ws", nil), http.StatusNotFound, "transport_not_enabled")
	expectError(t, g.get(t, ctx, "/chat/poll?callback=cb", nil), http.StatusNotFound, "transport_not_enabled")
	expectError(t, g.get(t, ctx, "/chat/nope", nil), http.StatusNotFound, "not_found")
	expectError(t, g.get(t, ctx, "/chat", nil), http.StatusNotFound, "not_found")
}

func TestSessionIDsAreRandom(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	seen := map[string]bool{}
	for range 20 {
		a, _ := g.poll(t, ctx, "", nil)
		if len(a.Session) < 22 || seen[a.Session] {
			t.Fatalf("session id %q (len %d, repeated %v)", a.Session, len(a.Session), seen[a.Session])
		}
		seen[a.Session] = true
	}
}
