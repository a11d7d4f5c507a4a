package bridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// testOrigin is the cross origin the SockJS routes list (the protocol's
// suite uses "test"; bridgeway's origins are scheme://host).
const testOrigin = "http://test.example"

// sockjsService is one SockJS route (echo, close, ...) on a gateway.
type sockjsService struct {
	g    *gateway
	base string // http://host:port/path
}

var sockjsSeq atomic.Int64

// newSID is a fresh session id, as sockjs-client picks one per session.
func newSID() string { return "sid-" + strconv.FormatInt(sockjsSeq.Add(1), 10) }

// sockjsRoute is a session-mode SockJS route in front of upstreamURL,
// with the protocol suite's test settings (4 KiB response limit).
func sockjsRoute(path, upstreamURL string) config.Route {
	yes := true
	return config.Route{
		Path:        path,
		Upstream:    config.Upstream{URL: upstreamURL, Kind: config.KindWebSocket},
		Mode:        config.ModeSession,
		Buffer:      1024,
		SessionTTL:  durationPtr(30 * time.Second),
		Heartbeat:   config.Duration(25 * time.Second),
		PollTimeout: config.Duration(25 * time.Second),
		Origins:     []string{testOrigin, "null"},
		SockJS: &config.SockJS{
			ClientURL:       "/static/sockjs.min.js",
			WebSocket:       &yes,
			DisconnectDelay: config.Duration(time.Second),
			ResponseLimit:   4096,
		},
	}
}

// newSockJS serves route on its own gateway; cleanup waits until every
// SockJS session's disconnect timer has run (nothing left to leak).
func newSockJS(t testing.TB, route config.Route, limits config.Limits) *sockjsService {
	t.Helper()
	g := newGateway(t, route, limits)
	t.Cleanup(func() {
		waitFor(t, "sockjs sessions to expire", func() bool { return bridge.SockJSSessions(g.rh) == 0 })
	})
	return &sockjsService{g: g, base: g.srv.URL + route.Path}
}

// sockjsServices are the four services the protocol suite expects.
type sockjsServices struct {
	echo, close, wsOff, cookie *sockjsService
	up                         *testUpstream
}

func newSockJSServices(t *testing.T) *sockjsServices {
	up := newUpstream(t)
	s := &sockjsServices{up: up}
	s.echo = newSockJS(t, sockjsRoute("/echo", up.url("/echo")), config.Limits{})
	s.close = newSockJS(t, sockjsRoute("/close", closingUpstream(t)), config.Limits{})
	off := sockjsRoute("/disabled_websocket_echo", up.url("/echo"))
	no := false
	off.SockJS.WebSocket = &no
	s.wsOff = newSockJS(t, off, config.Limits{})
	ck := sockjsRoute("/cookie_needed_echo", up.url("/echo"))
	ck.SockJS.CookieNeeded = true
	s.cookie = newSockJS(t, ck, config.Limits{})
	return s
}

// do sends a request and reads the whole answer.
func do(t testing.TB, method, url, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	resp := start(t, method, url, body, hdr)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	return resp, string(b)
}

// start sends a request and returns the answer unread (streams).
func start(t testing.TB, method, url, body string, h http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		req.Header = h.Clone()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// openXhrStream opens an xhr_streaming request and reads its prelude.
func openXhrStream(t testing.TB, url string) *stream {
	t.Helper()
	st := openStream(t, "POST", url+"/xhr_streaming", nil)
	st.expect(t, strings.Repeat("h", 2048)+"\n")
	return st
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// expectBody checks status and body exactly.
func expectBody(t testing.TB, what string, resp *http.Response, body string, status int, want string) {
	t.Helper()
	if resp.StatusCode != status || body != want {
		t.Fatalf("%s: got %d %q, want %d %q", what, resp.StatusCode, body, status, want)
	}
}

// stream reads an open streaming answer in exact pieces.
type stream struct {
	resp *http.Response
	br   *bufio.Reader
}

func openStream(t testing.TB, method, url string, h http.Header) *stream {
	t.Helper()
	resp := start(t, method, url, "", h)
	t.Cleanup(func() { resp.Body.Close() })
	return &stream{resp: resp, br: bufio.NewReader(resp.Body)}
}

// openTransportStream opens a streaming transport and checks its answer
// starts 200 with contentType and is not cached.
func openTransportStream(t testing.TB, what, method, url string, h http.Header, ctype string) *stream {
	t.Helper()
	st := openStream(t, method, url, h)
	if st.resp.StatusCode != 200 || contentType(st.resp) != ctype {
		t.Fatalf("%s: %d %q", what, st.resp.StatusCode, st.resp.Header.Get("Content-Type"))
	}
	checkNotCached(t, what, st.resp)
	return st
}

// expect reads exactly len(want) bytes and compares.
func (s *stream) expect(t testing.TB, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(s.br, got); err != nil {
		t.Fatalf("stream: want %q, read %q: %v", want, got, err)
	}
	if string(got) != want {
		t.Fatalf("stream: got %q, want %q", got, want)
	}
}

// expectEOF checks that the server ended the response.
func (s *stream) expectEOF(t testing.TB) {
	t.Helper()
	rest, err := io.ReadAll(s.br)
	if err != nil || len(rest) != 0 {
		t.Fatalf("stream: want the end, got %q (%v)", rest, err)
	}
}

const noCache = "no-store, no-cache, no-transform, must-revalidate, max-age=0"

func checkNotCached(t testing.TB, what string, resp *http.Response) {
	t.Helper()
	if cc := resp.Header.Get("Cache-Control"); cc != noCache || resp.Header.Get("Expires") != "" || resp.Header.Get("Last-Modified") != "" {
		t.Fatalf("%s: Cache-Control %q Expires %q Last-Modified %q", what, cc, resp.Header.Get("Expires"), resp.Header.Get("Last-Modified"))
	}
}

func checkCORS(t testing.TB, what string, resp *http.Response, origin string) {
	t.Helper()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Fatalf("%s: Access-Control-Allow-Origin %q, want %q", what, got, origin)
	}
	if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Fatalf("%s: Access-Control-Allow-Credentials %q", what, got)
	}
}

func contentType(resp *http.Response) string {
	return strings.ReplaceAll(resp.Header.Get("Content-Type"), " ", "")
}

func wsURL(httpURL string) string { return "ws" + strings.TrimPrefix(httpURL, "http") }

func zeroSockJSLimits() config.Limits { return config.Limits{} }

// holdPoll sends a receiving POST in the background (its answer comes
// only when there is something to say); abort cuts it, as a client that
// goes away.
func holdPoll(t testing.TB, url string, h http.Header) (abort func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "POST", url, nil)
		if h != nil {
			req.Header = h.Clone()
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	abort = func() { cancel(); <-done }
	t.Cleanup(abort)
	return abort
}

// pollMessages polls url's session with xhr until n messages came (an
// echo of several sends may arrive over more than one answer).
func pollMessages(t testing.TB, url string, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		resp, body := do(t, "POST", url+"/xhr", "", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "a[") {
			t.Fatalf("poll: %d %q", resp.StatusCode, body)
		}
		var msgs []string
		if err := json.Unmarshal([]byte(strings.TrimSuffix(body[1:], "\n")), &msgs); err != nil {
			t.Fatalf("poll %q: %v", body, err)
		}
		got = append(got, msgs...)
	}
	return got
}

// expectRefusal sends a request and checks that it is refused the SockJS
// way: 500 with a body that says why.
func expectRefusal(t testing.TB, what, method, url, body string, h http.Header, want string) {
	t.Helper()
	resp, got := do(t, method, url, body, h)
	if resp.StatusCode != 500 || !strings.Contains(got, want) {
		t.Fatalf("%s: got %d %q, want 500 with %q", what, resp.StatusCode, got, want)
	}
}

// exchange sends a request and checks its status and whole body.
func exchange(t testing.TB, what, method, url, body string, h http.Header, status int, want string) *http.Response {
	t.Helper()
	resp, got := do(t, method, url, body, h)
	expectBody(t, what, resp, got, status, want)
	return resp
}
