package hardening

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// recordingServer is a real HTTP upstream that records the path and headers
// of every request and answers with handle.
type recordingServer struct {
	srv *httptest.Server

	mu   sync.Mutex
	seen []seenRequest
}

func newRecordingServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *recordingServer {
	s := &recordingServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, seenRequest{method: r.Method, uri: r.RequestURI, header: r.Header.Clone()})
		s.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

// requests are the recorded requests whose path is path ("" for all).
func (s *recordingServer) requests(path string) []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []seenRequest
	for _, r := range s.seen {
		if path == "" || r.uri == path {
			out = append(out, r)
		}
	}
	return out
}

// TestRedirectsStayOnTheUpstreamOrigin: bridged HTTP upstreams (poll,
// longpoll, sse) follow redirects only within the upstream's origin, at
// most 5, and never send a Referer; a redirect to another origin is an
// upstream error, so the other host never sees the route's headers (was:
// followed, with X-Api-Key and a Referer holding the full upstream URL).
func TestRedirectsStayOnTheUpstreamOrigin(t *testing.T) {
	other := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("stolen"))
	})
	var app *recordingServer
	app = newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.srv.URL+"/steal?from=app", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/same":
			http.Redirect(w, r, app.srv.URL+"/feed", http.StatusFound)
		case "/same-sse":
			http.Redirect(w, r, "/sse-feed", http.StatusTemporaryRedirect)
		case "/feed":
			_, _ = w.Write([]byte("hello"))
		case "/sse-feed":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: hello\n\n"))
		}
	})
	route := func(path, target, kind string) string {
		return "  - path: " + path + "\n    upstream: {url: \"" + app.srv.URL + target + "?key=secret\", kind: " + kind +
			", headers: {X-Api-Key: secret}}\n"
	}
	g := startGateway(t, "routes:\n"+
		route("/poll-away", "/away", "poll")+route("/sse-away", "/away", "sse")+route("/lp-away", "/away", "longpoll")+
		route("/poll-loop", "/loop", "poll")+route("/poll-same", "/same", "poll")+route("/sse-same", "/same-sse", "sse"))

	// Another origin: the session open fails (poll, sse dial at once) or
	// the session's upstream ends (longpoll asks from its loop).
	expectError(t, "poll upstream redirecting away", get(t, g.URL+"/poll-away/poll", nil), 502, "upstream_unavailable")
	expectError(t, "sse upstream redirecting away", get(t, g.URL+"/sse-away/sse", nil), 502, "upstream_unavailable")
	if a := get(t, g.URL+"/lp-away/poll?wait=0", nil); a.status != 200 {
		t.Fatalf("longpoll session: %d %s", a.status, a.body)
	}
	eventually(t, "the longpoll upstream's redirect to be refused or followed", func() bool {
		return len(other.requests("")) > 0 ||
			g.metric("bridgeway_upstream_failures_total", `route="/lp-away"`) > 0
	})
	for _, r := range other.requests("") {
		t.Errorf("the other origin got %s %s with X-Api-Key %q, Referer %q", r.method, r.uri, r.header.Get("X-Api-Key"), r.header.Get("Referer"))
	}

	// A same-origin loop is cut after 5 redirects.
	expectError(t, "redirect loop", get(t, g.URL+"/poll-loop/poll", nil), 502, "upstream_unavailable")
	if n := len(app.requests("/loop")); n > 6 {
		t.Errorf("a redirect loop was followed %d times", n-1)
	}

	// Same origin: followed, with the route's headers and no Referer.
	if a := get(t, g.URL+"/poll-same/poll?wait=0", nil); a.status != 200 {
		t.Errorf("poll upstream redirecting within its origin: %d %s", a.status, a.body)
	}
	openSSE(t, g.URL+"/sse-same/sse", nil)
	eventually(t, "the sse upstream's redirected request", func() bool { return len(app.requests("/sse-feed")) > 0 })
	for _, path := range []string{"/feed", "/sse-feed"} {
		reqs := app.requests(path)
		if len(reqs) == 0 {
			t.Errorf("%s was never requested", path)
		}
		for _, r := range reqs {
			if r.header.Get("X-Api-Key") != "secret" || r.header.Get("Referer") != "" {
				t.Errorf("%s: X-Api-Key %q, Referer %q", path, r.header.Get("X-Api-Key"), r.header.Get("Referer"))
			}
		}
	}
}
