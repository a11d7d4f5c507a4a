package bridge_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

// TestLostSessionOnEveryTransport: a cursor or ?session= of a session the
// gateway does not have gets an answer each transport can read, carrying
// close code 4404 (session_not_found): a script tag cannot read a 404 and
// an EventSource only reports "error" for one.
func TestLostSessionOnEveryTransport(t *testing.T) {
	up := newUpstream(t)
	route := sessionRoute(up)
	route.Transports = []string{"websocket", "sse", "longpoll", "poll", "stream", "jsonp"}
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	const gone = "AAAAAAAAAAAAAAAAAAAAAA-3"
	check := func(what string, resp *http.Response, status int, ctype, want string) {
		t.Helper()
		defer resp.Body.Close()
		got := readAll(t, resp)
		if resp.StatusCode != status || resp.Header.Get("Content-Type") != ctype || got != want {
			t.Errorf("%s: %d %q %q, want %d %q %q", what, resp.StatusCode, resp.Header.Get("Content-Type"), got, status, ctype, want)
		}
	}
	const closed = `{"code":4404,"reason":"session_not_found"}`

	check("jsonp", g.get(t, ctx, "/chat/poll?callback=cb&cursor="+gone, nil), 200,
		"application/javascript", `/**/cb({"closed":`+closed+`});`)
	check("sse", g.get(t, ctx, "/chat/sse", http.Header{"Last-Event-ID": {gone}}), 200,
		"text/event-stream; charset=utf-8", "retry: 2000\n\nid: end\nevent: close\ndata: "+closed+"\n\n")
	check("sse ?session=", g.get(t, ctx, "/chat/sse?session=nope", nil), 200,
		"text/event-stream; charset=utf-8", "retry: 2000\n\nid: end\nevent: close\ndata: "+closed+"\n\n")
	// The EventSource reconnects with that id: 204 stops it for good.
	check("sse after the close", g.get(t, ctx, "/chat/sse", http.Header{"Last-Event-ID": {"end"}}), 204, "", "")
	check("stream", g.get(t, ctx, "/chat/stream?cursor="+gone, nil), 200,
		"application/x-ndjson", `{"closed":`+closed+"}\n")
	// Long-poll and polling read the status (XHR): 404 as before.
	expectError(t, g.get(t, ctx, "/chat/poll?cursor="+gone, nil), http.StatusNotFound, "session_not_found")
	expectError(t, g.get(t, ctx, "/chat/poll?wait=0&cursor="+gone, nil), http.StatusNotFound, "session_not_found")

	ws := mustDialWS(t, g.wsURL("/chat/ws?format=json&session=nope"), nil)
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4404 || ce.Text != "session_not_found" {
		t.Errorf("websocket: %v, want close 4404 session_not_found", err)
	}
	if _, opened, _ := up.stats(); opened != 0 {
		t.Errorf("the upstream saw %d connections, want 0 (no session is opened in its place)", opened)
	}
}
