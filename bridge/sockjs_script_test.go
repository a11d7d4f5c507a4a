package bridge_test

import (
	"strings"
	"testing"
)

// EventSource, htmlfile and JSONP polling (sockjs-protocol: EventSource,
// HtmlFile, JsonPolling).

func TestSockJSEventSource(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	st := openTransportStream(t, "eventsource", "GET", url+"/eventsource", nil, "text/event-stream")
	st.expect(t, "\r\n")
	st.expect(t, "data: o\r\n\r\n")
	exchange(t, "send", "POST", url+"/xhr_send", `["x"]`, nil, 204, "")
	st.expect(t, "data: a[\"x\"]\r\n\r\n")
	exchange(t, "send", "POST", url+"/xhr_send", `["  \u0000\n\r "]`, nil, 204, "")
	st.expect(t, `data: a["  \u0000\n\r "]`+"\r\n\r\n")
}

func TestSockJSEventSourceResponseLimit(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	st := openStream(t, "GET", url+"/eventsource", nil)
	st.expect(t, "\r\n")
	st.expect(t, "data: o\r\n\r\n")
	m := `"` + strings.Repeat("x", 4096) + `"`
	exchange(t, "send", "POST", url+"/xhr_send", "["+m+"]", nil, 204, "")
	st.expect(t, "data: a["+m+"]\r\n\r\n")
	st.expectEOF(t)
}

// htmlfileHead is the start the protocol defines, line by line.
var htmlfileHead = strings.Join([]string{
	`<!doctype html>`, `<html><head>`,
	`  <meta http-equiv="X-UA-Compatible" content="IE=edge" />`,
	`  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />`,
	`</head><body><h2>Don't panic!</h2>`, `  <script>`,
	`    document.domain = document.domain;`, `    var c = parent.callback;`, `    c.start();`,
	`    function p(d) {c.message(d);};`, `    window.onload = function() {c.stop();};`, `  </script>`,
}, "\n")

// readHtmlfileHead reads the head and its padding up to the first script
// chunk.
func readHtmlfileHead(t *testing.T, st *stream) {
	t.Helper()
	head, err := st.br.ReadString('\n')
	for err == nil && !strings.HasSuffix(head, "\r\n\r\n") {
		var more string
		more, err = st.br.ReadString('\n')
		head += more
	}
	if err != nil || strings.TrimSpace(head) != htmlfileHead || len(head) <= 1024 {
		t.Fatalf("htmlfile head (%d bytes, %v): %q", len(head), err, head)
	}
}

func TestSockJSHtmlfile(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	st := openTransportStream(t, "htmlfile", "GET", url+"/htmlfile?c=%63allback", nil, "text/html;charset=UTF-8")
	readHtmlfileHead(t, st)
	st.expect(t, "<script>\np(\"o\");\n</script>\r\n")
	exchange(t, "send", "POST", url+"/xhr_send", `["x"]`, nil, 204, "")
	st.expect(t, "<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n")
}

func TestSockJSHtmlfileResponseLimit(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	st := openStream(t, "GET", url+"/htmlfile?c=callback", nil)
	readHtmlfileHead(t, st)
	st.expect(t, "<script>\np(\"o\");\n</script>\r\n")
	m := strings.Repeat("x", 4096)
	exchange(t, "send", "POST", url+"/xhr_send", `["`+m+`"]`, nil, 204, "")
	st.expect(t, "<script>\np(\"a[\\\""+m+"\\\"]\");\n</script>\r\n")
	st.expectEOF(t)
}

// TestSockJSCallbacks: htmlfile and jsonp need a callback name of
// [a-zA-Z0-9_.-]; anything else is refused before a session is touched.
func TestSockJSCallbacks(t *testing.T) {
	s := newSockJSServices(t)
	for _, tr := range []string{"htmlfile", "jsonp"} {
		expectRefusal(t, tr+" without c", "GET", s.echo.base+"/a/a/"+tr, "", nil, `"callback" parameter required`)
		for _, cb := range []string{"%20", "*", "abc(", "abc%28", "a%3C%2Fscript%3E", "x%3Balert(1)%2F%2F"} {
			expectRefusal(t, tr+" c="+cb, "GET", s.echo.base+"/a/a/"+tr+"?c="+cb, "", nil, `invalid "callback" parameter`)
		}
	}
	if open, opened, _ := s.up.stats(); open+opened != 0 {
		t.Fatalf("refused callbacks opened %d upstream connections", opened)
	}
}

func TestSockJSJSONP(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	resp := exchange(t, "open", "GET", url+"/jsonp?c=%63allback", "", nil, 200, "/**/callback(\"o\");\r\n")
	if ct := contentType(resp); ct != "application/javascript;charset=UTF-8" {
		t.Fatalf("jsonp content type %q", ct)
	}
	checkNotCached(t, "jsonp", resp)
	form := hdr("Content-Type", "application/x-www-form-urlencoded")
	resp = exchange(t, "send", "POST", url+"/jsonp_send", "d=%5B%22x%22%5D", form, 200, "ok")
	if ct := contentType(resp); ct != "text/plain;charset=UTF-8" {
		t.Fatalf("jsonp_send content type %q", ct)
	}
	checkNotCached(t, "jsonp_send", resp)
	exchange(t, "echo", "GET", url+"/jsonp?c=%63allback", "", nil, 200, "/**/callback(\"a[\\\"x\\\"]\");\r\n")
}

func TestSockJSJSONPInvalidJSON(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	exchange(t, "open", "GET", url+"/jsonp?c=x", "", nil, 200, "/**/x(\"o\");\r\n")
	form := hdr("Content-Type", "application/x-www-form-urlencoded")
	expectRefusal(t, "broken JSON", "POST", url+"/jsonp_send", "d=%5B%22x", form, "Broken JSON encoding.")
	for _, data := range []string{"", "d=", "p=p"} {
		expectRefusal(t, "body "+data, "POST", url+"/jsonp_send", data, form, "Payload expected.")
	}
	exchange(t, "send", "POST", url+"/jsonp_send", "d=%5B%22b%22%5D", form, 200, "ok")
	exchange(t, "echo", "GET", url+"/jsonp?c=x", "", nil, 200, "/**/x(\"a[\\\"b\\\"]\");\r\n")
	if _, _, received := s.up.stats(); received != 1 {
		t.Fatalf("upstream received %d messages, want 1", received)
	}
}

func TestSockJSJSONPContentTypes(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	exchange(t, "open", "GET", url+"/jsonp?c=x", "", nil, 200, "/**/x(\"o\");\r\n")
	exchange(t, "form", "POST", url+"/jsonp_send", "d=%5B%22abc%22%5D", hdr("Content-Type", "application/x-www-form-urlencoded"), 200, "ok")
	exchange(t, "text", "POST", url+"/jsonp_send", `["%61bc"]`, hdr("Content-Type", "text/plain"), 200, "ok")
	if got := pollMessages(t, url, 2); got[0] != "abc" || got[1] != "%61bc" {
		t.Fatalf("echoes %q", got)
	}
}

func TestSockJSJSONPClose(t *testing.T) {
	s := newSockJSServices(t)
	url := s.close.base + "/000/" + newSID()
	exchange(t, "open", "GET", url+"/jsonp?c=x", "", nil, 200, "/**/x(\"o\");\r\n")
	for i := 0; i < 2; i++ {
		exchange(t, "close", "GET", url+"/jsonp?c=x", "", nil, 200, "/**/x(\"c[3000,\\\"Go away!\\\"]\");\r\n")
	}
}

func TestSockJSJSONPEmptyFrame(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/000/" + newSID()
	exchange(t, "open", "GET", url+"/jsonp?c=x", "", nil, 200, "/**/x(\"o\");\r\n")
	form := hdr("Content-Type", "application/x-www-form-urlencoded")
	exchange(t, "empty frame", "POST", url+"/jsonp_send", "d=%5B%5D", form, 200, "ok")
	exchange(t, "send", "POST", url+"/jsonp_send", "d=%5B%22x%22%5D", form, 200, "ok")
	exchange(t, "echo", "GET", url+"/jsonp?c=x", "", nil, 200, "/**/x(\"a[\\\"x\\\"]\");\r\n")
}

// TestSockJSScriptBreakout: a message that tries to end the <script> it
// travels in (htmlfile) or to break out of the JSONP call reaches the
// client escaped: no "<", ">" or unescaped quote in the answer.
func TestSockJSScriptBreakout(t *testing.T) {
	s := newSockJSServices(t)
	evil := `</script><script>alert(1)</script>"));alert(2);//` + "\u2028"
	payload := `["` + strings.ReplaceAll(evil, `"`, `\"`) + `"]`

	url := s.echo.base + "/000/" + newSID()
	exchange(t, "open", "GET", url+"/jsonp?c=x", "", nil, 200, "/**/x(\"o\");\r\n")
	exchange(t, "send", "POST", url+"/xhr_send", payload, nil, 204, "")
	resp, body := do(t, "GET", url+"/jsonp?c=x", "", nil)
	inner := strings.TrimSuffix(strings.TrimPrefix(body, `/**/x(`), ");\r\n")
	if resp.StatusCode != 200 || strings.ContainsAny(inner, "<>\u2028") || strings.Count(inner, `"`) != strings.Count(inner, `\"`)+2 {
		t.Fatalf("jsonp answer not escaped: %q", body)
	}

	url = s.echo.base + "/000/" + newSID()
	st := openStream(t, "GET", url+"/htmlfile?c=callback", nil)
	readHtmlfileHead(t, st)
	st.expect(t, "<script>\np(\"o\");\n</script>\r\n")
	exchange(t, "send", "POST", url+"/xhr_send", payload, nil, 204, "")
	chunk, err := st.br.ReadString('\n') // "<script>\n"
	for err == nil && !strings.HasSuffix(chunk, "</script>\r\n") {
		var more string
		more, err = st.br.ReadString('\n')
		chunk += more
	}
	script := strings.TrimSuffix(strings.TrimPrefix(chunk, "<script>\n"), "\n</script>\r\n")
	if err != nil || strings.ContainsAny(script, "<>\u2028") {
		t.Fatalf("htmlfile chunk not escaped: %q (%v)", chunk, err)
	}
}
