package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSockJSFrames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{string(AppendSockJSMessages(nil, [][]byte{[]byte("a"), []byte(`"b"`)})), `a["a","\"b\""]`},
		{string(AppendSockJSClose(nil, 3000, "Go away!")), `c[3000,"Go away!"]`},
		{string(AppendSockJSString(nil, []byte("  \x00\n\r \b\f\t\x7f"))), `"  \u0000\n\r \b\f\t` + "\x7f" + `"`},
		{string(AppendSockJSString(nil, []byte("</script>&\u2028\u200c\u2060\ufff0\uffff\xff"))), `"\u003c/script\u003e\u0026\u2028\u200c\u2060\ufff0\uffff\ufffd"`},
		{string(AppendSockJSEventSource(nil, []byte("o"))), "data: o\r\n\r\n"},
		{string(AppendSockJSHtmlfile(nil, []byte(`a["x"]`))), "<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n"},
		{string(AppendSockJSJSONP(nil, "cb", []byte("o"))), "/**/cb(\"o\");\r\n"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	head := SockJSHtmlfileHead("cb")
	if len(head) <= 1024 || !strings.Contains(string(head), "var c = parent.cb;") || !strings.HasSuffix(string(head), "\r\n\r\n") {
		t.Errorf("htmlfile head %q", head)
	}
}

func TestSockJSCallbackAndMessages(t *testing.T) {
	for cb, ok := range map[string]bool{"cb": true, "a.b-c_9": true, "": false, "a(": false, "a b": false,
		"</script>": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false} {
		if ValidSockJSCallback(cb) != ok {
			t.Errorf("ValidSockJSCallback(%q) = %v", cb, !ok)
		}
	}
	for in, want := range map[string]string{`["a","b"]`: "a|b", `"one"`: "one", `[]`: "", `null`: ""} {
		got, err := ParseSockJSMessages([]byte(in))
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("ParseSockJSMessages(%s) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{`["a`, `[1]`, `{"a":1}`, ``, `[["a"]]`} {
		if _, err := ParseSockJSMessages([]byte(in)); err == nil {
			t.Errorf("ParseSockJSMessages(%s) accepted", in)
		}
	}
}

// FuzzSockJSString: any bytes give a JSON string that decodes to their
// valid-UTF-8 text, with no raw <, >, &, control byte or U+2028/2029 (so
// it is safe inside a <script> and a JSONP call).
func FuzzSockJSString(f *testing.F) {
	f.Add([]byte("</script><script>alert(1)</script>\u2028\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := AppendSockJSString(nil, b)
		var s string
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("%q: not JSON: %v", out, err)
		}
		if s != strings.ToValidUTF8(string(b), "\ufffd") && utf8.Valid(b) {
			t.Fatalf("%q decodes to %q", b, s)
		}
		for _, r := range string(out) {
			if r == '<' || r == '>' || r == '&' || r < 0x20 || r == '\u2028' || r == '\u2029' {
				t.Fatalf("%q holds %U", out, r)
			}
		}
	})
}
