package hardening

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// headersOf reads the status and headers of a GET and drops the body (the
// answer may be a stream that never ends).
func headersOf(t *testing.T, url string) (int, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_ = res.Body.Close()
	return res.StatusCode, res.Header
}

// TestSessionAnswersAreNotStored: a session's streams (SSE, NDJSON) and
// polls (long-poll, poll, JSONP) carry one client's data, so every answer
// says Cache-Control: no-store (was: no-cache on the streams, which lets
// a cache keep a copy).
func TestSessionAnswersAreNotStored(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	p := decodePoll(t, get(t, g.URL+"/chat/poll?wait=0", nil))
	for _, path := range []string{
		"/chat/poll?wait=0", "/chat/poll?wait=0&cursor=" + p.Cursor, "/chat/poll?callback=cb&wait=0",
		"/chat/sse", "/chat/sse?lastEventId=" + p.Cursor, "/chat/stream", "/chat/stream?cursor=" + p.Cursor,
		"/feed/sse", "/feed/stream", "/feed/poll?wait=0",
	} {
		status, hdr := headersOf(t, g.URL+path)
		if status != 200 || !strings.Contains(hdr.Get("Cache-Control"), "no-store") {
			t.Errorf("%s: %d Cache-Control %q", path, status, hdr.Get("Cache-Control"))
		}
	}
}
