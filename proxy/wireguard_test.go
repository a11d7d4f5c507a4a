package proxy

import (
	"strings"
	"testing"
)

func TestWireGuardAnyChunking(t *testing.T) {
	long := strings.Repeat("x", 100)
	cases := []struct {
		name    string
		stream  string
		tainted bool
	}{
		{"both headers", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"upper case, reversed", "POST /a HTTP/1.1\r\nTRANSFER-ENCODING: chunked\r\nCONTENT-LENGTH: 5\r\n\r\n", true},
		{"second pipelined request", "GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST /" + long + " HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"bare LF", "POST /a HTTP/1.1\nContent-Length: 5\nTransfer-Encoding: chunked\n\n", true},
		{"only content-length", "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", false},
		{"only chunked", "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false},
		{"headers split by an empty line", "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"not a request line", "hello world\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"long header values", "POST /a HTTP/1.1\r\nX-Long: " + long + "\r\nContent-Length: 5" + "\r\nTransfer-Encoding: " + long + "\r\n\r\n", true},
	}
	for _, tc := range cases {
		for _, size := range []int{1, 2, 3, 7, 33, 4096} {
			var g wireGuard
			for s := tc.stream; len(s) > 0; {
				n := min(size, len(s))
				g.scan([]byte(s[:n]))
				s = s[n:]
			}
			if got := g.tainted.Load(); got != tc.tainted {
				t.Errorf("%s, chunks of %d: tainted %v, want %v", tc.name, size, got, tc.tainted)
			}
		}
	}
}

func TestCannedErrorRewrite(t *testing.T) {
	const hdrs = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	for in, wantStatus := range map[string]string{
		"HTTP/1.1 400 Bad Request" + hdrs + "400 Bad Request":                                                             "HTTP/1.1 400 ",
		"HTTP/1.1 431 Request Header Fields Too Large" + hdrs + "431 Request Header Fields Too Large":                     "HTTP/1.1 431 ",
		"HTTP/1.1 400 Bad Request: missing required Host header" + hdrs + "400 Bad Request: missing required Host header": "HTTP/1.1 400 ",
		"HTTP/1.1 501 Not Implemented" + hdrs + "Unsupported transfer encoding":                                           "HTTP/1.1 501 ",
	} {
		out, ok := jsonForCannedError([]byte(in))
		if !ok || !strings.HasPrefix(string(out), wantStatus) || !strings.Contains(string(out), "Content-Type: application/json") {
			t.Errorf("%q not rewritten: %q", in, out)
		}
	}
	for _, in := range []string{
		"HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 400 Bad Request" + hdrs + "something else",
		"HTTP/1.1 400 Bad Request\r\nDate: x" + hdrs + "400 Bad Request",
		"garbage",
	} {
		if _, ok := jsonForCannedError([]byte(in)); ok {
			t.Errorf("%q rewritten, want left alone", in)
		}
	}
}

// FuzzWireGuard: any input, split anywhere, gives the same verdict as the
// whole input at once, and never panics.
func FuzzWireGuard(f *testing.F) {
	f.Add("POST /a HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", uint8(3))
	f.Add("GET / HTTP/1.0\n\n", uint8(1))
	f.Add("\r\r\n\r\n", uint8(2))
	f.Fuzz(func(t *testing.T, stream string, split uint8) {
		var whole, parts wireGuard
		whole.scan([]byte(stream))
		size := int(split%64) + 1
		for s := stream; len(s) > 0; {
			n := min(size, len(s))
			parts.scan([]byte(s[:n]))
			s = s[n:]
		}
		if whole.tainted.Load() != parts.tainted.Load() {
			t.Fatalf("verdict depends on chunking (size %d)", size)
		}
		_, _ = jsonForCannedError([]byte(stream))
	})
}

// The scanner runs on every byte read from a plain-listener client: a
// whole keep-alive request costs it no allocation.
func TestWireGuardScanAllocatesNothing(t *testing.T) {
	req := []byte("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-Other: y\r\n\r\n")
	var g wireGuard
	if n := testing.AllocsPerRun(100, func() { g.scan(req) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
	if !g.tainted.Load() {
		t.Fatal("CL+TE not seen")
	}
	ok := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	if n := testing.AllocsPerRun(100, func() { _, _ = jsonForCannedError(ok) }); n != 0 {
		t.Fatalf("%v allocations per normal response checked for canned errors", n)
	}
}
