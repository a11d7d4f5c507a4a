package e2e

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/chromedp/chromedp"
)

// These tests use the browser's own EventSource and WebSocket against the
// gateway, without the library, to prove the wire format is what browsers
// expect.

type sseEvent struct {
	Data string `json:"data"`
	ID   string `json:"id"`
}

// openNativeSSE opens window.ES on url and records events in window.N.
const openNativeSSE = `(function (url) {
  var n = window.N = {events: [], session: null, opens: 0, errors: 0};
  var es = window.ES = new EventSource(url);
  es.onopen = function () { n.opens++; };
  es.onerror = function () { n.errors++; };
  es.addEventListener("session", function (e) { n.session = JSON.parse(e.data); });
  es.onmessage = function (e) { n.events.push({data: e.data, id: e.lastEventId}); };
  return true;
})`

// post sends body to the session's send URL (synchronous XHR, so sends stay in order).
const post = `(function (body) {
  var x = new XMLHttpRequest();
  x.open("POST", N.session.send, false); // synchronous: sends stay in order
  x.setRequestHeader("Content-Type", "text/plain");
  x.send(body);
  return x.status;
})`

func TestNativeEventSource(t *testing.T) {
	gw := newGateway(t)
	// Through a proxy that can cut the connection, to see the browser's own
	// reconnect with Last-Event-ID.
	proxy := newTestProxy(t, gw.URL, false)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(proxy.URL+"/test.html"))
	eval[bool](t, tab, openNativeSSE+`("/chat/sse")`)
	waitFor(t, tab, `N.session && N.events.length >= 1`, `N`)
	var session struct{ Session, Send, Cursor string }
	if err := json.Unmarshal([]byte(eval[string](t, tab, `JSON.stringify(N.session)`)), &session); err != nil {
		t.Fatal(err)
	}
	if len(session.Session) < 22 || session.Send != "/chat/send?session="+session.Session {
		t.Fatalf("session event %+v", session)
	}
	if st := eval[int](t, tab, post+`("burst:3")`); st != 204 {
		t.Fatalf("send: status %d", st)
	}
	// CR, LF and CRLF each end a data line; the browser joins them with LF.
	eval[int](t, tab, post+`("multi\nline\r\nthird\rfourth")`)
	waitFor(t, tab, `N.events.length >= 5`, `N`)

	proxy.cut() // EventSource reconnects by itself after retry: 2000, with Last-Event-ID
	eval[int](t, tab, post+`("after-cut")`)
	waitFor(t, tab, `N.events.length >= 6`, `N`)

	var events []sseEvent
	if err := json.Unmarshal([]byte(eval[string](t, tab, `JSON.stringify(N.events)`)), &events); err != nil {
		t.Fatal(err)
	}
	var data []string
	ids := map[string]bool{}
	for _, e := range events {
		data = append(data, e.Data)
		if e.ID == "" || ids[e.ID] {
			t.Errorf("event %q has id %q (empty or repeated)", e.Data, e.ID)
		}
		ids[e.ID] = true
	}
	want := []string{"hi:1", "n:1", "n:2", "n:3", "echo:multi\nline\nthird\nfourth", "echo:after-cut"}
	if !reflect.DeepEqual(data, want) {
		t.Fatalf("events %q, want %q", data, want)
	}
	if opens := eval[int](t, tab, `N.opens`); opens < 2 {
		t.Errorf("EventSource opened %d times; the cut should have made it reconnect", opens)
	}

	// ?lastEventId= resumes too (for polyfills that cannot set headers).
	eval[bool](t, tab, `ES.close(), true`)
	eval[bool](t, tab, openNativeSSE+`("/chat/sse?lastEventId=" + encodeURIComponent(`+mustJSON(t, events[2].ID)+`))`)
	waitFor(t, tab, `N.events.length >= 3`, `N`)
	if got := eval[[]string](t, tab, `N.events.map(function (e) { return e.data; })`); !reflect.DeepEqual(got, want[3:]) {
		t.Fatalf("after lastEventId=%s: %q, want %q", events[2].ID, got, want[3:])
	}
	eval[bool](t, tab, `ES.close(), true`)
}

func TestNativeWebSocket(t *testing.T) {
	gw := newGateway(t)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(gw.URL+"/test.html"))
	// The route path itself, as an existing WebSocket client would use it.
	eval[bool](t, tab, `(function () {
	  var w = window.W = {frames: [], close: null};
	  var ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/chat");
	  ws.binaryType = "arraybuffer";
	  ws.onopen = function () {
	    ws.send("burst:3");
	    ws.send(new Uint8Array([0, 1, 2, 255]).buffer);
	    ws.send("close:4321");
	  };
	  ws.onmessage = function (e) {
	    w.frames.push(typeof e.data === "string" ? "text " + e.data : "binary " + Array.from(new Uint8Array(e.data)).join(","));
	  };
	  ws.onclose = function (e) { w.close = e.code + " " + e.reason; };
	  return true;
	})()`)
	waitFor(t, tab, `W.close`, `W`)
	want := []string{"text hi:1", "text n:1", "text n:2", "text n:3", "binary 0,1,2,255"}
	if got := eval[[]string](t, tab, `W.frames`); !reflect.DeepEqual(got, want) {
		t.Fatalf("frames %q, want %q", got, want)
	}
	if got := eval[string](t, tab, `W.close`); got != "4321 bye" {
		t.Fatalf("close %q, want the app's 4321 bye", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNativeEventSourceLostSession: the browser's own EventSource on a
// session the gateway does not have gets the close event (4404) and then
// stops: its reconnect with the close event's id gets 204, so it does not
// retry for ever.
func TestNativeEventSourceLostSession(t *testing.T) {
	gw := newGateway(t)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(gw.URL+"/test.html"))
	// One evaluation: the listener is there before any event can arrive.
	eval[bool](t, tab, openNativeSSE+`("/chat/sse?lastEventId=AAAAAAAAAAAAAAAAAAAAAA-3") &&
		(ES.addEventListener("close", function (e) { (N.closes = N.closes || []).push(e.data); }), true)`)
	// Open twice (the close, then the 204 after retry: 2000), then closed.
	waitFor(t, tab, `N.closes && ES.readyState === 2`, `{N: N, state: ES.readyState}`)
	if got := eval[string](t, tab, `JSON.stringify(N.closes)`); got != `["{\"code\":4404,\"reason\":\"session_not_found\"}"]` {
		t.Errorf("close events %s, want one 4404 session_not_found", got)
	}
}
