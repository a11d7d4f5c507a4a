package client

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, method string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestServesScriptWithHeaders(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	resp, body := get(t, srv, http.MethodGet, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !bytes.Equal(body, Script()) || !bytes.Contains(body, []byte("bridgeway")) {
		t.Fatalf("body is not client.js (%d bytes)", len(body))
	}
	for k, want := range map[string]string{
		"Content-Type":           "application/javascript; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "public, max-age=300",
		"Etag":                   ETag(),
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !regexp.MustCompile(`^"[A-Za-z0-9_-]{16}"$`).MatchString(ETag()) {
		t.Errorf("etag %q is not a quoted strong tag", ETag())
	}
}

func TestConditionalGetAndHead(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	resp, body := get(t, srv, http.MethodGet, http.Header{"If-None-Match": {ETag()}})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("If-None-Match: status %d, %d bytes; want 304 and no body", resp.StatusCode, len(body))
	}
	resp, body = get(t, srv, http.MethodGet, http.Header{"If-None-Match": {`"stale"`}})
	if resp.StatusCode != http.StatusOK || len(body) != len(Script()) {
		t.Fatalf("stale tag: status %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = get(t, srv, http.MethodHead, nil)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(len(Script())) {
		t.Fatalf("HEAD: status %d, body %d, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
}

func TestOtherMethodsRefused(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	resp, body := get(t, srv, http.MethodPost, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	var e struct{ Error, Message string }
	if err := json.Unmarshal(body, &e); err != nil || e.Error != "method_not_allowed" || e.Message == "" {
		t.Fatalf("POST body %q: %v", body, err)
	}
}

// The library promises to be small and plain ES5: no build step means no
// later syntax may slip in.
func TestScriptIsSmallES5(t *testing.T) {
	// 12 KiB since the stall watch and the poll answer size came in, 13
	// KiB since WebSocket sends are kept until acknowledged, 14 KiB since
	// the resume edges (the WebSocket bootstrap, rounds of banned transports).
	if n := len(Script()); n >= 14*1024 {
		t.Errorf("client.js is %d bytes, want < 14 KiB", n)
	}
	// Strip strings and comments roughly, then look for ES2015+ syntax.
	code := regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"|/\*[\s\S]*?\*/|//[^\n]*`).ReplaceAll(Script(), nil)
	for _, bad := range []string{`=>`, "`", `\blet\s`, `\bconst\s`, `\bclass\s`, `\.\.\.`, `\bPromise\b`, `\bfetch\(`, `\basync\s`, `\bawait\s`} {
		if loc := regexp.MustCompile(bad).FindIndex(code); loc != nil {
			t.Errorf("client.js uses %s (not ES5): %q", bad, code[max(0, loc[0]-30):min(len(code), loc[1]+30)])
		}
	}
}
