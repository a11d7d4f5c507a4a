package hardening

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// passthroughYAML is one kind-http route to an upstream at URL.
func passthroughYAML(url string) string {
	return "routes:\n  - path: /app\n    upstream: {url: \"" + url + "\", kind: http, timeout: 5s}\n"
}

// TestRequestSmugglingRefused writes request-smuggling shapes on raw
// connections to a pass-through route. Each is answered 400 (or 501 for an
// unknown coding) and neither it nor the request hidden behind it reaches
// the upstream, which records everything that arrives.
func TestRequestSmugglingRefused(t *testing.T) {
	app := newHTTPApp(t)
	g := startGateway(t, passthroughYAML(app.srv.URL))
	expectSmugglingRefused(t, app, func(t *testing.T) net.Conn { return g.rawConn(t) })
}

// smuggled is the request hidden behind each smuggling attempt.
const smuggled = "GET /app/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// smugglingCases are request-smuggling shapes and the status each gets.
var smugglingCases = []struct {
	name   string
	req    string
	status int
}{
	{"CL.TE", "POST /app/a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400},
	{"TE.CL", "POST /app/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" +
		fmt.Sprintf("%x", len(smuggled)) + "\r\n" + smuggled + "\r\n0\r\n\r\n", 400},
	{"duplicate CL differing", "POST /app/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n" + smuggled, 400},
	{"duplicate CL in one line", "POST /app/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 44\r\n\r\n" + smuggled, 400},
	{"empty CL", "POST /app/a HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n" + smuggled, 400},
	{"negative CL", "POST /app/a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + smuggled, 400},
	{"plus CL", "POST /app/a HTTP/1.1\r\nHost: x\r\nContent-Length: +44\r\n\r\n" + smuggled, 400},
	{"space before colon", "POST /app/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled, 400},
	{"obfuscated TE", "POST /app/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled, 501},
	{"TE chunked twice", "POST /app/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + smuggled, 501},
	{"TE identity,chunked", "POST /app/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n" + smuggled, 501},
	{"folded header", "POST /app/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n Transfer-Encoding: chunked\r\n\r\n" + smuggled, 400},
	{"two Host headers", "GET /app/a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" + smuggled, 400},
	{"NUL in header", "GET /app/a HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n" + smuggled, 400},
}

// expectSmugglingRefused writes every smuggling case on a fresh connection
// from dial: each gets its status as JSON, nothing follows the refusal, and
// the upstream receives nothing.
func expectSmugglingRefused(t *testing.T, app *httpApp, dial func(*testing.T) net.Conn) {
	for _, tc := range smugglingCases {
		t.Run(tc.name, func(t *testing.T) {
			res, rest := exchangeOn(t, dial(t), tc.req)
			if res == nil {
				t.Fatalf("no response")
			}
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want a JSON error", ct)
			}
			if strings.Contains(rest, "HTTP/1.1") {
				t.Errorf("a second response followed the refusal: %q", rest)
			}
		})
	}
	for _, r := range app.seen() {
		t.Errorf("upstream received %s %s (body %q)", r.method, r.uri, r.body)
	}
}

// malformedChunkedBody is a chunked request body with bad framing.
type malformedChunkedBody struct{ name, body string }

// malformedChunkedBodies are chunked bodies a pass-through route refuses
// with 400 bad_request.
var malformedChunkedBodies = []malformedChunkedBody{
	{"non-hex size", "zz\r\nhello\r\n0\r\n\r\n"},
	{"size overflow", "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
	{"missing CRLF after data", "5\r\nhelloXX0\r\n\r\n"},
	{"negative size", "-5\r\nhello\r\n0\r\n\r\n"},
}

// TestBadChunkingNeverForwardsSmuggledRequest: malformed chunked bodies.
// Only the request head may reach the upstream (the body is streamed), but
// the upstream never gets a complete body, and the request hidden after
// the bad chunk is never forwarded.
func TestBadChunkingNeverForwardsSmuggledRequest(t *testing.T) {
	app := newHTTPApp(t)
	g := startGateway(t, passthroughYAML(app.srv.URL))
	cases := append(malformedChunkedBodies, malformedChunkedBody{"bare LF size line", "5\nhello\n0\n\n"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(app.seen())
			req := "POST /app/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + tc.body + smuggled
			res, rest := g.rawExchange(t, req)
			if res != nil && res.StatusCode < 400 {
				t.Errorf("status %d for a malformed body", res.StatusCode)
			}
			if strings.Count(rest, "HTTP/1.1 ") > 0 {
				t.Errorf("a second response followed: %q", rest)
			}
			for _, r := range app.seen()[before:] {
				if strings.Contains(r.uri, "smuggled") {
					t.Errorf("smuggled request reached the upstream")
				}
				if r.bodyErr == nil {
					t.Errorf("upstream got a complete body %q for %s", r.body, r.uri)
				}
			}
		})
	}
	// The gateway still serves normal requests.
	res, err := http.Get(g.URL + "/app/ok")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("normal request after the attacks: %v %v", res, err)
	}
	res.Body.Close()
}

// TestHTTP10TransferEncodingRefused: RFC 9112 section 6.1 says an HTTP/1.0
// message with Transfer-Encoding has faulty framing. net/http drops the
// header and frames by Content-Length; the gateway must refuse it with 400
// rather than forward a body whose length the client and upstream may read
// differently.
func TestHTTP10TransferEncodingRefused(t *testing.T) {
	app := newHTTPApp(t)
	g := startGateway(t, passthroughYAML(app.srv.URL))
	for name, req := range map[string]string{
		"TE and CL": "POST /app/a HTTP/1.0\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"TE only, keep-alive": "POST /app/a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x", len(smuggled)) + "\r\n" + smuggled + "\r\n0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := g.rawConn(t)
			if _, err := c.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", res.StatusCode)
			}
		})
	}
	for _, r := range app.seen() {
		t.Errorf("upstream received %s %s (body %q)", r.method, r.uri, r.body)
	}
	// A plain HTTP/1.0 request is still served.
	res, _ := g.rawExchange(t, "GET /app/ok HTTP/1.0\r\nHost: x\r\n\r\n")
	if res == nil || res.StatusCode != 200 {
		t.Errorf("HTTP/1.0 GET: %v", res)
	}
}
