package bridge_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// JSESSIONID and JSON encoding (sockjs-protocol: JsessionidCookie,
// JSONEncoding).

func checkJSESSIONID(t *testing.T, what string, resp *http.Response, value string) {
	t.Helper()
	parts := strings.Split(resp.Header.Get("Set-Cookie"), ";")
	if len(parts) < 2 || strings.TrimSpace(parts[0]) != "JSESSIONID="+value || strings.ToLower(strings.TrimSpace(parts[1])) != "path=/" {
		t.Fatalf("%s: Set-Cookie %q, want JSESSIONID=%s; path=/", what, resp.Header.Get("Set-Cookie"), value)
	}
}

func TestSockJSJSESSIONID(t *testing.T) {
	s := newSockJSServices(t)
	base := s.cookie.base
	resp := exchange(t, "xhr", "POST", base+"/000/"+newSID()+"/xhr", "", nil, 200, "o\n")
	checkJSESSIONID(t, "xhr", resp, "dummy")
	resp = exchange(t, "xhr", "POST", base+"/000/"+newSID()+"/xhr", "", hdr("Cookie", "JSESSIONID=abcdef"), 200, "o\n")
	checkJSESSIONID(t, "xhr with a cookie", resp, "abcdef")

	st := openStream(t, "POST", base+"/000/"+newSID()+"/xhr_streaming", nil)
	checkJSESSIONID(t, "xhr_streaming", st.resp, "dummy")
	st = openStream(t, "GET", base+"/000/"+newSID()+"/eventsource", nil)
	checkJSESSIONID(t, "eventsource", st.resp, "dummy")
	st = openStream(t, "GET", base+"/000/"+newSID()+"/htmlfile?c=%63allback", nil)
	checkJSESSIONID(t, "htmlfile", st.resp, "dummy")

	url := base + "/000/" + newSID()
	resp = exchange(t, "jsonp", "GET", url+"/jsonp?c=%63allback", "", nil, 200, "/**/callback(\"o\");\r\n")
	checkJSESSIONID(t, "jsonp", resp, "dummy")
	// The browser now sends the cookie it was given: the session is still
	// its own (JSESSIONID is not part of the credentials it is bound to).
	resp = exchange(t, "jsonp_send", "POST", url+"/jsonp_send", "d=%5B%22x%22%5D",
		hdr("Content-Type", "application/x-www-form-urlencoded", "Cookie", "JSESSIONID=dummy"), 200, "ok")
	checkJSESSIONID(t, "jsonp_send", resp, "dummy")

	// A cookie value that is not a plain token is not echoed.
	resp = exchange(t, "xhr", "POST", base+"/000/"+newSID()+"/xhr", "", hdr("Cookie", `JSESSIONID="a;b"`), 200, "o\n")
	checkJSESSIONID(t, "odd cookie", resp, "dummy")
}

// serverEscaped are the characters above U+00FF a SockJS server must send
// escaped (browsers mangle them).
func serverEscaped() (raw, escaped string) {
	var r, e strings.Builder
	for c := rune(0xff); c < 0x10000; c++ {
		if c >= 0x200c && c <= 0x200f || c >= 0x2028 && c <= 0x202f || c >= 0x2060 && c <= 0x206f || c >= 0xfff0 {
			r.WriteRune(c)
			fmt.Fprintf(&e, `\u%04x`, c)
		}
	}
	return r.String(), `"` + e.String() + `"`
}

func TestSockJSJSONEncoding(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	exchange(t, "open", "POST", url+"/xhr", "", nil, 200, "o\n")
	raw, escaped := serverEscaped()
	exchange(t, "send", "POST", url+"/xhr_send", `["`+raw+`"]`, nil, 204, "")
	resp, body := do(t, "POST", url+"/xhr", "", nil)
	if got := strings.TrimSpace(body)[2 : len(strings.TrimSpace(body))-1]; resp.StatusCode != 200 || got != escaped {
		t.Fatalf("server encoding: got %.200q", got)
	}

	// What clients escape comes back as the same string.
	var sent strings.Builder
	sent.WriteByte('"')
	var want strings.Builder
	for c := rune(0); c < 0x10000; c++ {
		if c < 0x20 || c >= 0x7f && c <= 0x9f || c == 0xad || c >= 0x600 && c <= 0x604 || c >= 0x2000 && c <= 0x20ff || c == 0xfeff || c >= 0xfff0 {
			fmt.Fprintf(&sent, `\u%04x`, c)
			want.WriteRune(c)
		}
	}
	sent.WriteByte('"')
	exchange(t, "send", "POST", url+"/xhr_send", "["+sent.String()+"]", nil, 204, "")
	got := pollMessages(t, url, 1)
	if got[0] != want.String() || !utf8.ValidString(got[0]) {
		t.Fatalf("client-escaped characters did not come back the same")
	}
}
