package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestRoutingLongestPrefixAndNotFound(t *testing.T) {
	app := startUpstream(t, "app")
	api := startUpstream(t, "api")
	s := startServer(t, baseYAML+`
routes:
  - path: /app
    upstream:
      url: "`+app.URL+`"
  - path: /app/api
    upstream:
      url: "`+api.URL+`"
  - path: /chat
    upstream:
      url: "ws://127.0.0.1:1/chat"
`, Deps{})
	c := newClient(t)
	base := "http://" + s.Addr()

	cases := []struct {
		path, upstream, upstreamPath string
	}{
		{"/app", "app", "/app"},
		{"/app/x?y=1", "app", "/app/x"},
		{"/app/api", "api", "/app/api"},
		{"/app/api/v1/items", "api", "/app/api/v1/items"},
		{"/app/apix", "app", "/app/apix"},
	}
	for _, tc := range cases {
		resp, body := get(t, c, base+tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d body %s", tc.path, resp.StatusCode, body)
		}
		var got echoReply
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: %v: %s", tc.path, err, body)
		}
		if got.Upstream != tc.upstream || got.Path != tc.upstreamPath {
			t.Errorf("%s: reached %s%s, want %s%s", tc.path, got.Upstream, got.Path, tc.upstream, tc.upstreamPath)
		}
	}

	for _, path := range []string{"/", "/apple", "/nothing/here", "/chatroom"} {
		resp, body := get(t, c, base+path)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", path, ct)
		}
		if code := decodeError(t, body); code != "route_not_found" {
			t.Errorf("%s: error %q, want route_not_found", path, code)
		}
	}

	resp, body := get(t, c, base+"/chat/sse")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "bridged /chat ws://127.0.0.1:1/chat") {
		t.Fatalf("bridged route: status %d body %q", resp.StatusCode, body)
	}
	if built, _ := s.bridge.counts("/chat"); built != 1 {
		t.Errorf("bridge factory called %d times for /chat, want 1", built)
	}
}

func TestClientJS(t *testing.T) {
	t.Run("absent", func(t *testing.T) {
		s := startServer(t, baseYAML+`
routes:
  - path: /chat
    upstream:
      url: "ws://127.0.0.1:1/chat"
`, Deps{})
		resp, body := get(t, newClient(t), "http://"+s.Addr()+clientJSPath)
		if resp.StatusCode != http.StatusNotFound || decodeError(t, body) != "not_found" {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
	})
	t.Run("present", func(t *testing.T) {
		js := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/javascript")
			_, _ = w.Write([]byte("var bridgeway = {};"))
		})
		// A catch-all route must not shadow the client library.
		up := startUpstream(t, "root")
		s := startServer(t, baseYAML+`
routes:
  - path: /
    upstream:
      url: "`+up.URL+`"
`, Deps{ClientJS: js})
		resp, body := get(t, newClient(t), "http://"+s.Addr()+clientJSPath)
		if resp.StatusCode != http.StatusOK || body != "var bridgeway = {};" {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
		if up.requests.Load() != 0 {
			t.Errorf("client.js request reached the upstream")
		}
	})
}
