package bridge_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// The endpoints without a session: greeting, iframe page, /info
// (sockjs-protocol: BaseUrlGreeting, IframePage, InfoTest).

func TestSockJSGreeting(t *testing.T) {
	s := newSockJSServices(t)
	for _, u := range []string{s.echo.base, s.echo.base + "/"} {
		resp := exchange(t, u, "GET", u, "", nil, 200, "Welcome to SockJS!\n")
		if ct := contentType(resp); ct != "text/plain;charset=UTF-8" {
			t.Fatalf("greeting content type %q", ct)
		}
		if resp.Header.Get("Set-Cookie") != "" {
			t.Fatal("greeting sets a cookie")
		}
	}
	for _, suffix := range []string{"/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a/"} {
		if resp, _ := do(t, "GET", s.echo.base+suffix, "", nil); resp.StatusCode != 404 {
			t.Fatalf("GET %s: %d, want 404", suffix, resp.StatusCode)
		}
	}
}

// iframeLines is the page the protocol defines, line by line; the
// script's src is the configured client_url.
var iframeLines = []string{
	`<!DOCTYPE html>`, `<html>`, `<head>`,
	`  <meta http-equiv="X-UA-Compatible" content="IE=edge" />`,
	`  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />`,
	`  <script src="/static/sockjs.min.js"></script>`,
	`  <script>`, `    document.domain = document.domain;`, `    SockJS.bootstrap_iframe();`, `  </script>`,
	`</head>`, `<body>`, `  <h2>Don't panic!</h2>`,
	`  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>`,
	`</body>`, `</html>`,
}

func TestSockJSIframePage(t *testing.T) {
	s := newSockJSServices(t)
	var etag string
	for _, suffix := range []string{"/iframe.html", "/iframe-a.html", "/iframe-.html", "/iframe-0.1.2.html",
		"/iframe-0.1.2abc-dirty.2144.html", "/iframe-a.html?t=1234", "/iframe-0.1.2.html?t=123414",
		"/iframe-0.1.2abc-dirty.2144.html?t=qweqweq123"} {
		resp, body := do(t, "GET", s.echo.base+suffix, "", nil)
		if resp.StatusCode != 200 || contentType(resp) != "text/html;charset=UTF-8" {
			t.Fatalf("%s: %d %q", suffix, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		cc := resp.Header.Get("Cache-Control")
		if !strings.Contains(cc, "public") || !regexp.MustCompile(`max-age=[1-9][0-9]{6}`).MatchString(cc) ||
			resp.Header.Get("Expires") == "" || resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") != "" ||
			resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("%s: headers %v", suffix, resp.Header)
		}
		if strings.TrimSpace(body) != strings.Join(iframeLines, "\n") {
			t.Fatalf("%s: body %q", suffix, body)
		}
		if etag == "" {
			etag = resp.Header.Get("ETag")
		} else if resp.Header.Get("ETag") != etag {
			t.Fatalf("%s: ETag %q differs from %q", suffix, resp.Header.Get("ETag"), etag)
		}
	}
	resp, body := do(t, "GET", s.echo.base+"/iframe.html", "", hdr("If-None-Match", etag))
	if resp.StatusCode != 304 || resp.Header.Get("Content-Type") != "" || body != "" {
		t.Fatalf("If-None-Match: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, suffix := range []string{"/iframe.htm", "/iframe", "/IFRAME.HTML", "/IFRAME", "/iframe.HTML", "/iframe.xml", "/iframe-/.html"} {
		if resp, _ := do(t, "GET", s.echo.base+suffix, "", nil); resp.StatusCode != 404 {
			t.Fatalf("GET %s: %d, want 404", suffix, resp.StatusCode)
		}
	}
}

// TestSockJSIframeNeedsClientURL: bridgeway ships no sockjs-client, so
// without client_url there is no iframe page.
func TestSockJSIframeNeedsClientURL(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/echo", up.url("/echo"))
	r.SockJS.ClientURL = ""
	s := newSockJS(t, r, config.Limits{})
	if resp, _ := do(t, "GET", s.base+"/iframe.html", "", nil); resp.StatusCode != 404 {
		t.Fatalf("iframe without client_url: %d, want 404", resp.StatusCode)
	}
}

type sockjsInfo struct {
	WebSocket    bool     `json:"websocket"`
	CookieNeeded bool     `json:"cookie_needed"`
	Origins      []string `json:"origins"`
	Entropy      *uint64  `json:"entropy"`
}

func getInfo(t *testing.T, base string, h http.Header) (*http.Response, sockjsInfo) {
	t.Helper()
	resp, body := do(t, "GET", base+"/info", "", h)
	var info sockjsInfo
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &info) != nil || info.Entropy == nil {
		t.Fatalf("info: %d %q", resp.StatusCode, body)
	}
	return resp, info
}

func TestSockJSInfo(t *testing.T) {
	s := newSockJSServices(t)
	resp, info := getInfo(t, s.echo.base, hdr("Origin", testOrigin))
	if ct := contentType(resp); ct != "application/json;charset=UTF-8" {
		t.Fatalf("info content type %q", ct)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Fatal("info sets a cookie")
	}
	checkNotCached(t, "info", resp)
	checkCORS(t, "info", resp, testOrigin)
	if !info.WebSocket || info.CookieNeeded || len(info.Origins) != 1 || info.Origins[0] != "*:*" {
		t.Fatalf("info %+v", info)
	}
	_, again := getInfo(t, s.echo.base, nil)
	if *again.Entropy == *info.Entropy || *info.Entropy > 1<<32-1 {
		t.Fatalf("entropy %d then %d", *info.Entropy, *again.Entropy)
	}
	verifyOptions(t, s.echo.base+"/info", "OPTIONS, GET")

	resp, body := do(t, "OPTIONS", s.echo.base+"/info", "", hdr("Origin", "null", "Access-Control-Request-Method", "POST"))
	if (resp.StatusCode != 204 && resp.StatusCode != 200) || body != "" || resp.Header.Get("Access-Control-Allow-Origin") != "null" {
		t.Fatalf("null origin preflight: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if _, info := getInfo(t, s.wsOff.base, nil); info.WebSocket {
		t.Fatal("disabled_websocket_echo says websocket: true")
	}
	resp, info = getInfo(t, s.cookie.base, nil)
	if !info.CookieNeeded || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("cookie_needed_echo: %+v, Set-Cookie %q", info, resp.Header.Get("Set-Cookie"))
	}
}

// verifyOptions is the protocol's preflight check for an endpoint.
func verifyOptions(t *testing.T, url, methods string) {
	t.Helper()
	for _, origin := range []string{testOrigin, "null"} {
		resp, body := do(t, "OPTIONS", url, "", hdr("Access-Control-Request-Method", methods, "Origin", origin))
		cc := resp.Header.Get("Cache-Control")
		if (resp.StatusCode != 204 && resp.StatusCode != 200) || body != "" || !strings.Contains(cc, "public") ||
			!regexp.MustCompile(`max-age=[1-9][0-9]{6}`).MatchString(cc) || resp.Header.Get("Expires") == "" {
			t.Fatalf("OPTIONS %s (%s): %d %q %v", url, origin, resp.StatusCode, body, resp.Header)
		}
		if age := resp.Header.Get("Access-Control-Max-Age"); len(age) < 7 {
			t.Fatalf("OPTIONS %s: Access-Control-Max-Age %q", url, age)
		}
		for _, m := range strings.Split(methods, ",") {
			if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), strings.TrimSpace(m)) {
				t.Fatalf("OPTIONS %s: Allow-Methods %q lacks %s", url, resp.Header.Get("Access-Control-Allow-Methods"), m)
			}
		}
		checkCORS(t, "OPTIONS "+url, resp, origin)
	}
}
