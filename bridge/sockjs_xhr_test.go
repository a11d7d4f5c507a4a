package bridge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// Sessions over xhr-polling and xhr-streaming (sockjs-protocol:
// SessionURLs, Protocol, XhrPolling, XhrStreaming, HandlingClose).

func TestSockJSSessionURLs(t *testing.T) {
	s := newSockJSServices(t)
	for _, part := range []string{"/a/a1", "/_/_1", "/1/1", "/abcdefgh_i-j%20/abcdefg_i-j%201"} {
		exchange(t, part, "POST", s.echo.base+part+"/xhr", "", nil, 200, "o\n")
	}
	for _, part := range []string{"//", "/a./a", "/a/a.", "/./.", "/", "///"} {
		for _, m := range []string{"GET", "POST"} {
			if resp, _ := do(t, m, s.echo.base+part+"/xhr", "", nil); resp.StatusCode != 404 {
				t.Fatalf("%s %s/xhr: %d, want 404", m, part, resp.StatusCode)
			}
		}
	}
	// server_id is for load balancers: the session is the same under any.
	sid := newSID()
	exchange(t, "open", "POST", s.echo.base+"/000/"+sid+"/xhr", "", nil, 200, "o\n")
	exchange(t, "send", "POST", s.echo.base+"/000/"+sid+"/xhr_send", `["a"]`, nil, 204, "")
	exchange(t, "poll under another server id", "POST", s.echo.base+"/999/"+sid+"/xhr", "", nil, 200, "a[\"a\"]\n")
}

func TestSockJSSimpleSession(t *testing.T) {
	s := newSockJSServices(t)
	sid := newSID()
	url := s.echo.base + "/000/" + sid
	exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
	exchange(t, "send", "POST", url+"/xhr_send", `["a"]`, nil, 204, "")
	exchange(t, "echo", "POST", url+"/xhr", "", nil, 200, "a[\"a\"]\n")
	if resp, _ := do(t, "POST", s.echo.base+"/000/bad_session/xhr_send", `["a"]`, nil); resp.StatusCode != 404 {
		t.Fatalf("send to an unknown session: %d, want 404", resp.StatusCode)
	}

	// One receiving request at a time: the second gets c[2010].
	holdPoll(t, url+"/xhr", nil)
	waitReceiving(t, s.echo, sid)
	exchange(t, "second receiver", "POST", url+"/xhr", "", nil, 200, "c[2010,\"Another connection still open\"]\n")
}

// waitReceiving waits until session sid has a receiving request (a
// second one is then refused).
func waitReceiving(t testing.TB, s *sockjsService, sid string) {
	t.Helper()
	waitFor(t, "the held poll", func() bool { return bridge.SockJSReceiving(s.g.rh, sid) })
}

func TestSockJSCloseSession(t *testing.T) {
	s := newSockJSServices(t)
	url := s.close.base + "/000/" + newSID()
	exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
	for i := 0; i < 2; i++ { // served again until the session is forgotten
		exchange(t, "close", "POST", url+"/xhr", "", nil, 200, "c[3000,\"Go away!\"]\n")
	}
}

func TestSockJSXhrPolling(t *testing.T) {
	s := newSockJSServices(t)
	for _, suffix := range []string{"/xhr", "/xhr_send"} {
		verifyOptions(t, s.echo.base+"/abc/abc"+suffix, "OPTIONS, POST")
	}
	url := s.echo.base + "/000/" + newSID()
	origin := hdr("Origin", testOrigin)
	resp := exchange(t, "open", "POST", url+"/xhr", "", origin, 200, "o\n")
	if ct := contentType(resp); ct != "application/javascript;charset=UTF-8" {
		t.Fatalf("xhr content type %q", ct)
	}
	checkCORS(t, "xhr", resp, testOrigin)
	checkNotCached(t, "xhr", resp)
	resp = exchange(t, "send", "POST", url+"/xhr_send", `["x"]`, origin, 204, "")
	if ct := contentType(resp); ct != "text/plain;charset=UTF-8" {
		t.Fatalf("xhr_send content type %q", ct)
	}
	checkCORS(t, "xhr_send", resp, testOrigin)
	checkNotCached(t, "xhr_send", resp)
	exchange(t, "echo", "POST", url+"/xhr", "", nil, 200, "a[\"x\"]\n")

	if resp, _ := do(t, "POST", s.echo.base+"/000/"+newSID()+"/xhr_send", `["x"]`, nil); resp.StatusCode != 404 {
		t.Fatalf("send to an unopened session: %d", resp.StatusCode)
	}
}

func TestSockJSXhrSendInvalidJSON(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
	expectRefusal(t, "broken JSON", "POST", url+"/xhr_send", `["x`, nil, "Broken JSON encoding.")
	expectRefusal(t, "empty body", "POST", url+"/xhr_send", "", nil, "Payload expected.")
	exchange(t, "send", "POST", url+"/xhr_send", `["a"]`, nil, 204, "")
	exchange(t, "only the good message", "POST", url+"/xhr", "", nil, 200, "a[\"a\"]\n")
	if _, _, received := s.up.stats(); received != 1 {
		t.Fatalf("upstream received %d messages, want 1 (broken bodies are never forwarded)", received)
	}
}

func TestSockJSXhrSendContentTypes(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
	cts := []string{"text/plain", "T", "application/json", "application/xml", "",
		"application/json; charset=utf-8", "text/xml; charset=utf-8", "text/xml"}
	for _, ct := range cts {
		exchange(t, "send as "+ct, "POST", url+"/xhr_send", `["a"]`, hdr("Content-Type", ct), 204, "")
	}
	if got := pollMessages(t, url, len(cts)); strings.Join(got, ",") != strings.TrimSuffix(strings.Repeat("a,", len(cts)), ",") {
		t.Fatalf("echoes %q", got)
	}
}

func TestSockJSRequestHeadersCORS(t *testing.T) {
	s := newSockJSServices(t)
	for _, tc := range []struct{ asked, want string }{{"a, b, c", "a, b, c"}, {"", ""}} {
		h := hdr("Origin", testOrigin, "Access-Control-Request-Method", "POST")
		if tc.asked != "" {
			h.Set("Access-Control-Request-Headers", tc.asked)
		}
		resp, _ := do(t, "OPTIONS", s.echo.base+"/000/"+newSID()+"/xhr", "", h)
		if resp.StatusCode != 204 && resp.StatusCode != 200 {
			t.Fatalf("preflight: %d", resp.StatusCode)
		}
		checkCORS(t, "preflight", resp, testOrigin)
		if got := resp.Header.Get("Access-Control-Allow-Headers"); got != tc.want {
			t.Fatalf("asked %q: Allow-Headers %q, want %q", tc.asked, got, tc.want)
		}
	}
}

func TestSockJSSendingEmptyFrame(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
	exchange(t, "empty frame", "POST", url+"/xhr_send", `[]`, nil, 204, "")
	exchange(t, "send", "POST", url+"/xhr_send", `["a"]`, nil, 204, "")
	exchange(t, "echo", "POST", url+"/xhr", "", nil, 200, "a[\"a\"]\n")
}

func TestSockJSXhrStreaming(t *testing.T) {
	s := newSockJSServices(t)
	verifyOptions(t, s.echo.base+"/abc/abc/xhr_streaming", "OPTIONS, POST")
	url := s.echo.base + "/000/" + newSID()
	st := openTransportStream(t, "xhr_streaming", "POST", url+"/xhr_streaming", hdr("Origin", testOrigin), "application/javascript;charset=UTF-8")
	checkCORS(t, "xhr_streaming", st.resp, testOrigin)
	st.expect(t, strings.Repeat("h", 2048)+"\n")
	st.expect(t, "o\n")
	exchange(t, "send", "POST", url+"/xhr_send", `["x"]`, nil, 204, "")
	st.expect(t, "a[\"x\"]\n")
}

// TestSockJSXhrStreamingResponseLimit: a stream ends after response_limit
// bytes of frames (4096 here, as the protocol's test server has it); the
// client then opens the next one, which continues where this one stopped.
func TestSockJSXhrStreamingResponseLimit(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	st := openXhrStream(t, url)
	st.expect(t, "o\n")
	m := `"` + strings.Repeat("x", 128) + `"`
	for i := 0; i < 31; i++ {
		exchange(t, "send", "POST", url+"/xhr_send", "["+m+"]", nil, 204, "")
		st.expect(t, "a["+m+"]\n")
	}
	st.expectEOF(t)

	exchange(t, "send after the limit", "POST", url+"/xhr_send", `["next"]`, nil, 204, "")
	exchange(t, "the next receiver continues", "POST", url+"/xhr", "", nil, 200, "a[\"next\"]\n")
}

func TestSockJSHandlingClose(t *testing.T) {
	s := newSockJSServices(t)
	t.Run("close frame", func(t *testing.T) {
		url := s.close.base + "/000/" + newSID()
		r1 := openXhrStream(t, url)
		r1.expect(t, "o\n")
		r1.expect(t, "c[3000,\"Go away!\"]\n")
		r2 := openXhrStream(t, url)
		r2.expect(t, "c[3000,\"Go away!\"]\n")
		r1.expectEOF(t)
		r2.expectEOF(t)
	})
	t.Run("close request", func(t *testing.T) {
		url := s.echo.base + "/000/" + newSID()
		r1 := openXhrStream(t, url)
		r1.expect(t, "o\n")
		r2 := openXhrStream(t, url)
		r2.expect(t, "c[2010,\"Another connection still open\"]\n")
		r2.expectEOF(t)
	})
	t.Run("abort xhr streaming", func(t *testing.T) {
		url := s.echo.base + "/000/" + newSID()
		r1 := openXhrStream(t, url)
		r1.expect(t, "o\n")
		r1.resp.Body.Close()
		waitFor(t, "the aborted session's close", func() bool {
			r3 := openStream(t, "POST", url+"/xhr_streaming", nil)
			defer r3.resp.Body.Close()
			r3.expect(t, strings.Repeat("h", 2048)+"\n")
			line, _ := r3.br.ReadString('\n')
			return line == "c[1002,\"Connection interrupted\"]\n"
		})
	})
	t.Run("abort xhr polling", func(t *testing.T) {
		sid := newSID()
		url := s.echo.base + "/000/" + sid
		exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
		abort := holdPoll(t, url+"/xhr", nil)
		waitReceiving(t, s.echo, sid)
		exchange(t, "second receiver", "POST", url+"/xhr", "", nil, 200, "c[2010,\"Another connection still open\"]\n")
		abort()
		waitFor(t, "the aborted session's close", func() bool {
			resp, body := do(t, "POST", url+"/xhr", "", nil)
			return resp.StatusCode == 200 && body == "c[1002,\"Connection interrupted\"]\n"
		})
	})
}

// TestSockJSHeartbeat: a receiving request that waits gets an "h" frame
// every heartbeat (the route's heartbeat).
func TestSockJSHeartbeat(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/echo", up.url("/echo"))
	r.Heartbeat = config.Duration(time.Second) // short, yet the upstream stays healthy
	s := newSockJS(t, r, zeroSockJSLimits())
	url := s.base + "/000/" + newSID()
	exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
	exchange(t, "heartbeat", "POST", url+"/xhr", "", nil, 200, "h\n")
	st := openStream(t, "GET", url+"/eventsource", nil)
	st.expect(t, "\r\n")
	st.expect(t, "data: h\r\n\r\n")
}

// TestSockJSDisconnectDelay: a session without a receiving request for
// disconnect_delay is closed: sends get 404 and the upstream is closed.
func TestSockJSDisconnectDelay(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
	waitFor(t, "the upstream", func() bool { open, _, _ := s.up.stats(); return open == 1 })
	waitFor(t, "the session to expire", func() bool {
		resp, _ := do(t, "POST", url+"/xhr_send", `["a"]`, nil)
		return resp.StatusCode == http.StatusNotFound
	})
	waitFor(t, "the upstream to be closed", func() bool { open, _, _ := s.up.stats(); return open == 0 })
	// The expired session is closed before it leaves the route's table:
	// until then its id still answers with its close frame (the double-load
	// run of 2026-12-05 saw c[3000,"Go away!"] there). Then the id is free.
	waitFor(t, "a new session under the old id", func() bool {
		resp, body := do(t, "POST", url+"/xhr", "", nil)
		if resp.StatusCode != http.StatusOK || (body != "o\n" && body != "c[3000,\"Go away!\"]\n") {
			t.Fatalf("the old id after expiry: %d %q, want the close frame until it is forgotten, then o", resp.StatusCode, body)
		}
		return body == "o\n"
	})
}

// TestSockJSUpstreamCloseCode: the upstream's close code and reason reach
// the client's onclose as c[code,"reason"]; a plain close (1000 without a
// reason) is SockJS's c[3000,"Go away!"].
func TestSockJSUpstreamCloseCode(t *testing.T) {
	s := newSockJSServices(t)
	for _, c := range []struct{ cmd, want string }{
		{"close 4001 kicked out", `c[4001,"kicked out"]`},
		{"close 1000", `c[3000,"Go away!"]`},
	} {
		url := s.echo.base + "/000/" + newSID()
		exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
		exchange(t, "send", "POST", url+"/xhr_send", `["`+c.cmd+`"]`, nil, 204, "")
		exchange(t, c.cmd, "POST", url+"/xhr", "", nil, 200, c.want+"\n")
	}
}
