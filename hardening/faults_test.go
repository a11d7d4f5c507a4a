package hardening

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

func newFaultProxy(t *testing.T, target string) *FaultProxy {
	t.Helper()
	fp, err := NewFaultProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fp.Close() })
	return fp
}

// sessionOf reads the session event of a session-mode SSE stream.
func sessionOf(t *testing.T, s *sseStream) (id, cursor string) {
	t.Helper()
	ev := s.nextEvent(t, "session")
	var info struct{ Session, Cursor string }
	if err := json.Unmarshal([]byte(ev.data), &info); err != nil {
		t.Fatalf("session event %q", ev.data)
	}
	return info.Session, info.Cursor
}

// TestUpstreamResetMidStream: the fault proxy resets a session's upstream
// connection. SSE clients get event: close (1006, connection lost) and
// EOF; WebSocket clients get close 1014 (bad gateway); the failure is
// counted.
func TestUpstreamResetMidStream(t *testing.T) {
	app := newWSApp(t)
	fp := newFaultProxy(t, app.hostPort())
	g := startGateway(t, "routes:\n  - path: /s\n    upstream: {url: \"ws://"+fp.Addr()+"/echo\"}\n")

	s := openSSE(t, g.URL+"/s/sse", nil)
	id, _ := sessionOf(t, s)
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/s/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if a := do(t, "POST", g.URL+"/s/send?session="+id, nil, "before"); a.status != 204 {
		t.Fatalf("send %d", a.status)
	}
	if ev := s.nextEvent(t, "message"); ev.data != "before" {
		t.Fatalf("got %q", ev.data)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	if _, p, err := ws.ReadMessage(); err != nil || string(p) != "hello" {
		t.Fatalf("ws echo %q %v", p, err)
	}

	fp.ResetAll()
	ev := s.nextEvent(t, "close")
	var info struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(ev.data), &info); err != nil || info.Code != 1006 {
		t.Errorf("sse close %q, want code 1006", ev.data)
	}
	if _, err := s.next(); err == nil {
		t.Errorf("sse stream went on after close")
	}
	// gorilla's client refuses to parse 1014 (IANA "Bad Gateway", which
	// browsers accept) and reports "bad close code 1014".
	_, _, err = ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !(ok && ce.Code == 1014) && !strings.Contains(fmt.Sprint(err), "close code 1014") {
		t.Errorf("websocket end %v, want close 1014", err)
	}
	if n := g.metric("bridgeway_upstream_failures_total", `route="/s"`, `kind="websocket"`); n < 2 {
		t.Errorf("failures counted %v, want 2", n)
	}
}

// TestBroadcastUpstreamResetAndBlackhole: a broadcast topic's upstream is
// reset, then blackholed (no FIN: only the missing pongs tell). The topic
// reconnects with backoff each time and tells its subscribers with a gap;
// messages before and after arrive; reconnects and failures are counted.
func TestBroadcastUpstreamResetAndBlackhole(t *testing.T) {
	app := newWSApp(t)
	fp := newFaultProxy(t, app.hostPort())
	g := startGateway(t, "routes:\n  - path: /b\n    mode: broadcast\n    heartbeat: 250ms\n"+
		"    upstream: {url: \"ws://"+fp.Addr()+"/feed\", timeout: 500ms, reconnect: {min: 50ms, max: 200ms}}\n")
	s := openSSE(t, g.URL+"/b/sse", nil)
	eventually(t, "the topic upstream", func() bool { return app.open() == 1 })
	app.push("m1")
	if ev := s.nextEvent(t, "message"); ev.data != "m1" {
		t.Fatalf("got %q", ev.data)
	}

	// Reset: RST on both sides.
	fp.ResetAll()
	if ev := s.nextEvent(t, "gap"); ev.data == "" {
		t.Fatalf("gap without data")
	}
	eventually(t, "reconnect after reset", func() bool { return app.accepted.Load() >= 2 && app.open() == 1 })
	app.push("m2")
	if ev := s.nextEvent(t, "message"); ev.data != "m2" {
		t.Fatalf("after reset got %q", ev.data)
	}

	// Blackhole: nothing passes, nothing closes. Pings go unanswered, the
	// topic declares the upstream dead and its redials hang until their
	// handshake timeout; then the path heals.
	accepted := fp.Accepted()
	fp.SetFaults(Faults{Blackhole: true})
	eventually(t, "the blackhole to be detected", func() bool {
		return g.metric("bridgeway_upstream_failures_total", `route="/b"`) >= 2 && fp.Accepted() > accepted
	})
	appAccepted := app.accepted.Load() // the blackholed redials never reached the app
	fp.SetFaults(Faults{})
	if ev := s.nextEvent(t, "gap"); ev.data == "" {
		t.Fatalf("gap without data")
	}
	eventually(t, "reconnect after the blackhole", func() bool {
		return g.metric("bridgeway_upstream_reconnects_total", `route="/b"`) >= 2 && app.accepted.Load() > appAccepted
	})
	app.push("m3")
	if ev := s.nextEvent(t, "message"); ev.data != "m3" {
		t.Fatalf("after the blackhole got %q", ev.data)
	}
}

// TestClientPathCutsResumeExactlyOnce: a fault proxy between client and
// gateway resets every SSE connection after 700 bytes. The client resumes
// with Last-Event-ID each time and gets every message exactly once, in
// order.
func TestClientPathCutsResumeExactlyOnce(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "routes:\n  - path: /s\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n")
	fp := newFaultProxy(t, g.addr)
	fp.SetFaults(Faults{ResetAfter: 700})
	viaProxy := "http://" + fp.Addr() + "/s/sse"

	first := openSSE(t, g.URL+"/s/sse", nil) // direct: learn the session
	id, cursor := sessionOf(t, first)
	var msgs []string
	for i := range 40 {
		msgs = append(msgs, fmt.Sprintf("message %02d", i))
	}
	body, _ := json.Marshal(map[string][]string{"messages": msgs})
	if a := do(t, "POST", g.URL+"/s/send?session="+id, http.Header{"Content-Type": {"application/json"}}, string(body)); a.status != 204 {
		t.Fatalf("send %d", a.status)
	}
	first.close()

	var got []string
	for attempt := 0; len(got) < len(msgs); attempt++ {
		if attempt > 200 {
			t.Fatalf("no progress: got %d messages", len(got))
		}
		s := openSSE(t, viaProxy, http.Header{"Last-Event-ID": {cursor}})
		for len(got) < len(msgs) {
			ev, err := s.next()
			if err != nil {
				break // cut by the proxy: resume
			}
			if ev.event == "" && ev.id != "" {
				got = append(got, ev.data)
				cursor = ev.id
			}
		}
		s.close()
	}
	if fmt.Sprint(got) != fmt.Sprint(msgs) {
		t.Fatalf("resumed stream:\n%q\nwant\n%q", got, msgs)
	}
	if fp.Accepted() < 3 {
		t.Errorf("only %d connections: the cuts did not happen", fp.Accepted())
	}
}

// TestSlowUpstreamDeliversInOrder: latency and a bandwidth cap between
// gateway and upstream slow things down but lose or reorder nothing.
func TestSlowUpstreamDeliversInOrder(t *testing.T) {
	app := newWSApp(t)
	fp := newFaultProxy(t, app.hostPort())
	fp.SetFaults(Faults{Latency: 20 * 1e6, BytesPerSecond: 32 << 10})
	g := startGateway(t, "routes:\n  - path: /s\n    upstream: {url: \"ws://"+fp.Addr()+"/echo\"}\n")
	s := openSSE(t, g.URL+"/s/sse", nil)
	id, _ := sessionOf(t, s)
	body, _ := json.Marshal(map[string][]string{"messages": func() []string {
		var m []string
		for i := range 30 {
			m = append(m, fmt.Sprintf("msg-%02d-%0500d", i, i))
		}
		return m
	}()})
	if a := do(t, "POST", g.URL+"/s/send?session="+id, http.Header{"Content-Type": {"application/json"}}, string(body)); a.status != 204 {
		t.Fatalf("send %d %s", a.status, a.body)
	}
	for i := range 30 {
		want := fmt.Sprintf("msg-%02d-%0500d", i, i)
		if ev := s.nextEvent(t, "message"); ev.data != want {
			t.Fatalf("message %d: %.10q", i, ev.data)
		}
	}
}

// TestUpstream5xxAndDNSFailure: a poll upstream that answers 503 is
// retried with backoff until it recovers (failures counted, the subscriber
// gets the content afterwards); a WebSocket upstream that answers 503 or
// whose host does not resolve makes session opens fail with a clear 502;
// a pass-through to an unresolvable host is a 502 bad_gateway.
func TestUpstream5xxAndDNSFailure(t *testing.T) {
	var polls atomic.Int64
	pollApp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := polls.Add(1)
		if n <= 3 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"n":` + strconv.FormatInt(n/5, 10) + `}`))
	}))
	defer pollApp.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	g := startGateway(t, "routes:\n"+
		"  - path: /p\n    mode: broadcast\n    upstream: {url: \""+pollApp.URL+"\", kind: poll, interval: 50ms, reconnect: {min: 20ms, max: 100ms}}\n"+
		"  - path: /w503\n    upstream: {url: \"ws"+down.URL[4:]+"\", timeout: 3s}\n"+
		"  - path: /nodns\n    upstream: {url: \"ws://upstream.invalid/x\", timeout: 3s}\n"+
		"  - path: /nodnshttp\n    upstream: {url: \"http://upstream.invalid\", kind: http, timeout: 3s}\n")

	s := openSSE(t, g.URL+"/p/sse", nil)
	ev := s.nextEvent(t, "message")
	if ev.data == "" {
		t.Fatalf("poll content after recovery: %q", ev.data)
	}
	if n := g.metric("bridgeway_upstream_failures_total", `route="/p"`, `kind="poll"`); n < 3 {
		t.Errorf("poll failures counted %v, want >= 3", n)
	}

	for _, route := range []string{"/w503", "/nodns"} {
		expectError(t, route+" poll", get(t, g.URL+route+"/poll", nil), 502, "upstream_unavailable")
		expectError(t, route+" sse", get(t, g.URL+route+"/sse", nil), 502, "upstream_unavailable")
		if _, res, err := websocket.DefaultDialer.Dial("ws://"+g.addr+route+"/ws", nil); err == nil || res == nil || res.StatusCode != 502 {
			t.Errorf("%s websocket: %v %v", route, res, err)
		}
		if n := g.metric("bridgeway_bridge_upstream_dial_failures_total", `route="`+route+`"`); n < 3 {
			t.Errorf("%s dial failures counted %v", route, n)
		}
	}
	expectError(t, "pass-through DNS", get(t, g.URL+"/nodnshttp/x", nil), 502, "bad_gateway")
	if n := g.metric("bridgeway_proxy_upstream_errors_total", `route="/nodnshttp"`, `kind="dial"`); n != 1 {
		t.Errorf("pass-through dial errors counted %v", n)
	}
}

// TestSessionUpstreamBlackholeAndOversize: a session's upstream that goes
// silent without a FIN is detected by the missed pongs and the client gets
// close 1006; an upstream message beyond max_message_bytes ends the session
// with 1009. Both are counted as upstream failures.
func TestSessionUpstreamBlackholeAndOversize(t *testing.T) {
	app := newWSApp(t)
	fp := newFaultProxy(t, app.hostPort())
	g := startGateway(t, "limits: {max_message_bytes: 64KiB}\nroutes:\n"+
		"  - path: /s\n    heartbeat: 250ms\n    upstream: {url: \"ws://"+fp.Addr()+"/echo\"}\n"+
		"  - path: /big\n    upstream: {url: \""+app.wsURL("/feed")+"\"}\n")
	closeCode := func(s *sseStream) int {
		ev := s.nextEvent(t, "close")
		var info struct {
			Code int `json:"code"`
		}
		_ = json.Unmarshal([]byte(ev.data), &info)
		return info.Code
	}

	s := openSSE(t, g.URL+"/s/sse", nil)
	sessionOf(t, s)
	fp.SetFaults(Faults{Blackhole: true})
	if code := closeCode(s); code != 1006 {
		t.Errorf("blackholed session closed with %d, want 1006", code)
	}
	if n := g.metric("bridgeway_upstream_failures_total", `route="/s"`); n < 1 {
		t.Errorf("blackhole not counted")
	}

	big := openSSE(t, g.URL+"/big/sse", nil)
	sessionOf(t, big)
	eventually(t, "the session upstream", func() bool { return app.accepted.Load() == 2 })
	app.pushTo("/feed", strings.Repeat("x", 128<<10))
	if code := closeCode(big); code != 1009 {
		t.Errorf("oversized upstream message: close %d, want 1009", code)
	}
	if n := g.metric("bridgeway_upstream_failures_total", `route="/big"`); n < 1 {
		t.Errorf("oversized upstream message not counted")
	}
}
