package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPageServed(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<script src="/_bridgeway/client.js">`, RoutesPath, `id="force"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// No external assets: every src and href stays on the gateway.
	for _, bad := range []string{`src="http`, `href="http`, `src="//`, `href="//`, `@import`} {
		if strings.Contains(string(body), bad) {
			t.Errorf("page loads an external asset (%s)", bad)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	resp, err = srv.Client().Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: status %d", resp.StatusCode)
	}
}

func TestRoutesJSON(t *testing.T) {
	srv := httptest.NewServer(RoutesHandler([]Route{{Path: "/chat", Mode: "session", Send: true}, {Path: "/feed"}}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + RoutesPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Routes []map[string]any `json:"routes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Routes) != 2 || got.Routes[0]["path"] != "/chat" || got.Routes[0]["send"] != true || got.Routes[1]["path"] != "/feed" {
		t.Fatalf("routes.json = %+v", got)
	}
}
