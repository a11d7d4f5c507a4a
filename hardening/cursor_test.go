package hardening

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestJSONPCallbackInjectionRefused: any callback outside
// ^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$ gets a 400 JSON error that echoes
// nothing; a valid one gets /**/NAME(JSON); as nosniff JavaScript.
func TestJSONPCallbackInjectionRefused(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	bad := []string{
		"", "alert(1)//", "a;alert(1)", "cb(1);x", "<script>", "a b", "a\nb", "a\u2028b", "1abc", "a-b", "a=b",
		"a[0]", "a/**/", "cb%00", "a\x00", "x'", "x\"", "\\u0061", strings.Repeat("a", 65), "Ω",
	}
	for _, cb := range bad {
		for _, route := range []string{"/chat", "/feed"} {
			a := get(t, g.URL+route+"/poll?callback="+url.QueryEscape(cb), nil)
			expectError(t, "callback "+strconv.Quote(cb), a, 400, "bad_callback")
			if cb != "" && strings.Contains(a.body, cb) {
				t.Errorf("callback %q echoed in %q", cb, a.body)
			}
		}
	}
	good := []string{"cb", "$", "_", "jQuery123_456", "a.b.c", "$x.y_z", "A" + strings.Repeat("a", 63)}
	for _, cb := range good {
		a := get(t, g.URL+"/feed/poll?callback="+url.QueryEscape(cb), nil)
		if a.status != 200 || !strings.HasPrefix(a.body, "/**/"+cb+"({") || !strings.HasSuffix(a.body, "});") {
			t.Errorf("callback %q: %d %q", cb, a.status, a.body)
		}
		if a.header.Get("Content-Type") != "application/javascript" || a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("callback %q headers %v", cb, a.header)
		}
	}
}

// TestHostileCursorsGetClearAnswers: garbage, negative, huge and foreign
// cursors on every reading transport get a clear 4xx, never a crash or a
// silent restart; a cursor the buffer moved past gets an explicit gap.
func TestHostileCursorsGetClearAnswers(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	mine := decodePoll(t, get(t, g.URL+"/chat/poll", nil))
	other := decodePoll(t, get(t, g.URL+"/chat/poll", nil))
	sid := mine.Session
	cases := []struct {
		cursor string
		status int
		code   string
	}{
		{"!!!", 400, "bad_cursor"},
		{"-", 400, "bad_cursor"},
		{sid + "-", 400, "bad_cursor"},
		{sid, 400, "bad_cursor"},
		{sid + "-01", 400, "bad_cursor"},
		{sid + "-1e3", 400, "bad_cursor"},
		{sid + "- 1", 400, "bad_cursor"},
		{sid + "-0x10", 400, "bad_cursor"},
		{sid + "-99999999999999999999", 400, "bad_cursor"},
		{sid + "-18446744073709551615", 400, "bad_cursor"}, // ahead of the stream
		{sid + "-1000", 400, "bad_cursor"},
		{strings.Repeat("a", 10000) + "-1", 400, "bad_cursor"},
		{"../" + sid + "-0", 400, "bad_cursor"},
		{sid + "--1", 404, "session_not_found"}, // epoch "sid-", seq 1: no such session
		{"x" + sid + "-0", 404, "session_not_found"},
	}
	for _, tc := range cases {
		q := url.QueryEscape(tc.cursor)
		expectError(t, "poll "+tc.cursor[:min(40, len(tc.cursor))], get(t, g.URL+"/chat/poll?wait=0&cursor="+q, nil), tc.status, tc.code)
		if tc.status == 404 {
			// Streaming transports read a lost session as a close (4404).
			expectLost(t, "stream", get(t, g.URL+"/chat/stream?cursor="+q, nil))
			expectLost(t, "sse", get(t, g.URL+"/chat/sse?lastEventId="+q, nil))
			expectLost(t, "sse header", get(t, g.URL+"/chat/sse", http.Header{"Last-Event-ID": {tc.cursor}}))
			expectLostWS(t, "websocket", "ws://"+g.addr+"/chat/ws?cursor="+q)
			continue
		}
		expectError(t, "stream", get(t, g.URL+"/chat/stream?cursor="+q, nil), tc.status, tc.code)
		expectError(t, "sse", get(t, g.URL+"/chat/sse?lastEventId="+q, nil), tc.status, tc.code)
		if len(tc.cursor) < 1000 {
			expectError(t, "sse header", get(t, g.URL+"/chat/sse", http.Header{"Last-Event-ID": {tc.cursor}}), tc.status, tc.code)
		}
		if _, res, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/chat/ws?cursor="+q, nil); err == nil || res == nil || res.StatusCode != tc.status {
			t.Errorf("websocket cursor %q: %v %v", tc.cursor, res, err)
		}
	}
	// Another session's cursor together with my session id.
	expectError(t, "foreign cursor", get(t, g.URL+"/chat/poll?wait=0&session="+sid+"&cursor="+other.Cursor, nil), 400, "bad_cursor")
	// Garbage cursors on a broadcast topic.
	for _, c := range []string{"!!!", "abc-01", "abc-99999999999999999999"} {
		expectError(t, "feed "+c, get(t, g.URL+"/feed/poll?wait=0&cursor="+url.QueryEscape(c), nil), 400, "bad_cursor")
	}

	// A cursor the buffer (4) moved past: an explicit gap, then the
	// retained messages in order.
	sub := decodePoll(t, get(t, g.URL+"/feed/poll", nil))
	eventually(t, "the feed upstream", func() bool { return app.openOn("/feed") == 1 })
	for i := range 10 {
		app.pushTo("/feed", "m"+strconv.Itoa(i))
	}
	eventually(t, "ten feed messages", func() bool {
		return g.metric("bridgeway_upstream_messages_total", `route="/feed"`) >= 10
	})
	p := decodePoll(t, get(t, g.URL+"/feed/poll?wait=0&cursor="+sub.Cursor, nil))
	if p.Gap == nil {
		t.Fatalf("no gap after the buffer moved on: %+v", p)
	}
	got := p.data()
	if len(got) == 0 || got[len(got)-1] != "m9" {
		t.Fatalf("after the gap: %q", got)
	}
	first, _ := strconv.Atoi(strings.TrimPrefix(got[0], "m"))
	for i, d := range got {
		if d != "m"+strconv.Itoa(first+i) {
			t.Fatalf("messages after the gap not contiguous: %q", got)
		}
	}
	if g.metric("bridgeway_bridge_gaps_total", `route="/feed"`) < 1 {
		t.Errorf("gap not counted")
	}
}
