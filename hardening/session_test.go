package hardening

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// bridgedYAML: a session route to an echo app, a route that allows one
// foreign origin, and a broadcast feed with a tiny buffer.
func bridgedYAML(app *wsApp) string {
	return "routes:\n" +
		"  - path: /chat\n    upstream: {url: \"" + app.wsURL("/echo") + "\"}\n    poll_timeout: 20s\n" +
		"  - path: /open\n    upstream: {url: \"" + app.wsURL("/echo") + "\"}\n    origins: [\"https://good.example\"]\n" +
		"  - path: /feed\n    mode: broadcast\n    buffer: 4\n    upstream: {url: \"" + app.wsURL("/feed") + "\"}\n"
}

func expectError(t *testing.T, what string, a answer, status int, code string) {
	t.Helper()
	if a.status != status || a.errorCode() != code {
		t.Errorf("%s: %d %q, want %d %s", what, a.status, a.body, status, code)
	}
	if !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: Content-Type %q", what, a.header.Get("Content-Type"))
	}
}

// TestCrossSiteRequestsRefused: a page on a foreign origin cannot open a
// WebSocket, SSE, poll, JSONP, stream or send on a bridged route (403), and
// no refused request reaches the upstream.
func TestCrossSiteRequestsRefused(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	for _, origin := range []string{"https://evil.example", "null", "http://127.0.0.1:1", "http://" + g.addr + ".evil.example"} {
		hdr := http.Header{"Origin": {origin}}
		for _, route := range []string{"/chat", "/open", "/feed"} {
			base := g.URL + route
			expectError(t, origin+" sse", get(t, base+"/sse", hdr), 403, "origin_not_allowed")
			sseHdr := http.Header{"Origin": {origin}, "Accept": {"text/event-stream"}}
			expectError(t, origin+" sse on route path", get(t, base, sseHdr), 403, "origin_not_allowed")
			expectError(t, origin+" long-poll", get(t, base+"/poll", hdr), 403, "origin_not_allowed")
			expectError(t, origin+" poll", get(t, base+"/poll?wait=0", hdr), 403, "origin_not_allowed")
			expectError(t, origin+" jsonp", get(t, base+"/poll?callback=cb", hdr), 403, "origin_not_allowed")
			expectError(t, origin+" stream", get(t, base+"/stream", hdr), 403, "origin_not_allowed")
			expectError(t, origin+" send", do(t, "POST", base+"/send?session=x", hdr, "hi"), 403, "origin_not_allowed")
			expectError(t, origin+" preflight", do(t, "OPTIONS", base+"/poll", http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"GET"}}, ""), 403, "origin_not_allowed")
			for _, path := range []string{route, route + "/ws"} {
				ws, res, err := websocket.DefaultDialer.Dial("ws://"+g.addr+path, hdr)
				if err == nil {
					ws.Close()
					t.Errorf("%s websocket %s opened", origin, path)
				} else if res == nil || res.StatusCode != 403 {
					t.Errorf("%s websocket %s: %v %v", origin, path, res, err)
				}
			}
		}
	}
	// The allowed origin and same-origin pages work, with CORS headers for
	// the cross-origin one only.
	good := get(t, g.URL+"/open/poll", http.Header{"Origin": {"https://good.example"}})
	if good.status != 200 || good.header.Get("Access-Control-Allow-Origin") != "https://good.example" {
		t.Errorf("allowed origin: %d %v", good.status, good.header)
	}
	same := get(t, g.URL+"/chat/poll", http.Header{"Origin": {g.URL}})
	if same.status != 200 || same.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same origin: %d %v", same.status, same.header)
	}
	// The two allowed sessions' upstreams are the barrier: counted after
	// every refused request, they show that none of those opened one.
	eventually(t, "the allowed sessions' upstreams", func() bool { return app.accepted.Load() >= 2 })
	if n := app.accepted.Load(); n != 2 {
		t.Errorf("refused requests opened %d upstream connections", n-2)
	}
}

// TestSessionIDsCannotBeGuessedOrFixed: ids are 128-bit random values;
// random or client-chosen ids never find or create a session.
func TestSessionIDsCannotBeGuessedOrFixed(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	seen := map[string]bool{}
	for range 20 {
		p := decodePoll(t, get(t, g.URL+"/chat/poll", nil))
		raw, err := base64.RawURLEncoding.DecodeString(p.Session)
		if err != nil || len(raw) < 16 {
			t.Fatalf("session id %q is not 128 bits of base64url", p.Session)
		}
		if seen[p.Session] {
			t.Fatalf("session id repeated")
		}
		seen[p.Session] = true
	}
	// A session's upstream is dialled in the background: wait for all 20
	// before counting, or a late dial reads as a guess that opened one.
	eventually(t, "every session's upstream", func() bool { return app.accepted.Load() == 20 })
	opened := app.accepted.Load()

	guesses := []string{"AAAAAAAAAAAAAAAAAAAAAA", "attacker-chosen-session", "1", strings.Repeat("A", 64), "..%2F..%2Fadmin"}
	for i := range 50 {
		guesses = append(guesses, base64.RawURLEncoding.EncodeToString([]byte{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}))
	}
	for _, id := range guesses {
		q := url.QueryEscape(id)
		expectError(t, "poll guess", get(t, g.URL+"/chat/poll?session="+q, nil), 404, "session_not_found")
		expectError(t, "send guess", do(t, "POST", g.URL+"/chat/send?session="+q, nil, "hi"), 404, "session_not_found")
		expectLost(t, "sse guess", get(t, g.URL+"/chat/sse?session="+q, nil))
		expectLost(t, "stream guess", get(t, g.URL+"/chat/stream?session="+q, nil))
		expectLostWS(t, "websocket guess", "ws://"+g.addr+"/chat/ws?session="+q)
	}
	// Fixation: a client-chosen id (query or cursor) neither opens nor
	// names a session.
	fixed := "AttackerChosenId000000"
	expectError(t, "fixation by query", get(t, g.URL+"/chat/poll?session="+fixed, nil), 404, "session_not_found")
	expectError(t, "fixation by cursor", get(t, g.URL+"/chat/poll?cursor="+fixed+"-0", nil), 404, "session_not_found")
	expectLost(t, "fixation by Last-Event-ID", get(t, g.URL+"/chat/sse", http.Header{"Last-Event-ID": {fixed + "-0"}}))
	fresh := decodePoll(t, get(t, g.URL+"/chat/poll", http.Header{"Cookie": {"session=" + fixed}}))
	if fresh.Session == fixed || seen[fresh.Session] {
		t.Errorf("new session got id %q", fresh.Session)
	}
	// The fresh session's upstream is the barrier: counted after every
	// guess, it shows that none of them opened one.
	eventually(t, "the fresh session's upstream", func() bool { return app.accepted.Load() >= opened+1 })
	if n := app.accepted.Load(); n != opened+1 {
		t.Errorf("guesses opened %d upstream connections", n-opened-1)
	}
	for _, m := range app.messages() {
		t.Errorf("upstream received %q from a guessed session", m)
	}
}

// TestSessionReplayWithOtherCredentials: a session opened with a Cookie or
// Authorization cannot be read or written with other ones (403), and the
// upstream gets nothing from the replay.
func TestSessionReplayWithOtherCredentials(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	alice := http.Header{"Cookie": {"sid=alice"}, "Authorization": {"Bearer alice"}}
	p := decodePoll(t, get(t, g.URL+"/chat/poll", alice))
	others := []http.Header{
		nil,
		{"Cookie": {"sid=mallory"}},
		{"Cookie": {"sid=alice"}},
		{"Authorization": {"Bearer alice"}},
		{"Cookie": {"sid=alice"}, "Authorization": {"Bearer mallory"}},
		{"Cookie": {"sid=alice", "x=1"}, "Authorization": {"Bearer alice"}},
	}
	for i, h := range others {
		expectError(t, "poll replay", get(t, g.URL+"/chat/poll?wait=0&cursor="+p.Cursor, h), 403, "credentials_mismatch")
		expectError(t, "session replay", get(t, g.URL+"/chat/poll?wait=0&session="+p.Session, h), 403, "credentials_mismatch")
		expectError(t, "sse replay", get(t, g.URL+"/chat/sse?lastEventId="+p.Cursor, h), 403, "credentials_mismatch")
		expectError(t, "stream replay", get(t, g.URL+"/chat/stream?cursor="+p.Cursor, h), 403, "credentials_mismatch")
		expectError(t, "send replay", do(t, "POST", g.URL+"/chat/send?session="+p.Session, h, "from mallory"), 403, "credentials_mismatch")
		if _, res, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/chat/ws?cursor="+p.Cursor, h); err == nil || res == nil || res.StatusCode != 403 {
			t.Errorf("websocket replay %d: %v %v", i, res, err)
		}
	}
	if a := do(t, "POST", g.URL+"/chat/send?session="+p.Session, alice, "from alice"); a.status != 204 {
		t.Fatalf("owner's send: %d %s", a.status, a.body)
	}
	eventually(t, "the owner's message upstream", func() bool { return len(app.messages()) == 1 })
	if got := app.messages(); got[0] != "from alice" {
		t.Errorf("upstream got %q", got)
	}
}

// TestConcurrentPollEndsTheHeldOne: a second poll on a session ends the
// held one at once with an empty answer; the second one gets the message.
func TestConcurrentPollEndsTheHeldOne(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	p := decodePoll(t, get(t, g.URL+"/chat/poll", nil))
	first := make(chan answer, 1)
	go func() { first <- get(t, g.URL+"/chat/poll?cursor="+p.Cursor, nil) }()
	eventually(t, "the first poll is held", func() bool {
		return g.metric("bridgeway_bridge_clients_connected", `transport="longpoll"`, `route="/chat"`) == 1
	})
	second := make(chan answer, 1)
	go func() { second <- get(t, g.URL+"/chat/poll?cursor="+p.Cursor, nil) }()
	a := decodePoll(t, <-first)
	if len(a.Messages) != 0 || a.Cursor != p.Cursor {
		t.Errorf("superseded poll: %+v", a)
	}
	eventually(t, "the second poll is held", func() bool {
		return g.metric("bridgeway_bridge_clients_connected", `transport="longpoll"`, `route="/chat"`) == 1
	})
	// The echo app answers what is sent: the held poll gets it.
	if s := do(t, "POST", g.URL+"/chat/send?session="+p.Session, nil, "ping"); s.status != 204 {
		t.Fatalf("send: %d", s.status)
	}
	b := decodePoll(t, <-second)
	if got := b.data(); len(got) != 1 || got[0] != "ping" {
		t.Errorf("second poll got %q", got)
	}
}
