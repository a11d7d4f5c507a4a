package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawConn dials the gateway and returns the connection; closed at cleanup.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes a raw request and reads one response from the conn.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// readRaw reads a whole response from a connection that the server closes.
func readRaw(t *testing.T, c net.Conn) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// expectClosed asserts the server closes c (EOF or reset), whatever the time.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection still open at the test deadline")
		}
		return
	}
}

const getApp = "GET /app HTTP/1.1\r\nHost: x\r\n\r\n"

func TestMaxConnections(t *testing.T) {
	up := startUpstream(t, "app")
	s := startServer(t, baseYAML+`
limits:
  max_connections: 2
routes:
`+route("/app", up.URL), Deps{})

	// Two keep-alive connections that completed a request hold both slots.
	held := make([]net.Conn, 2)
	for i := range held {
		held[i] = rawConn(t, s.Addr())
		resp, _ := roundTrip(t, held[i], bufio.NewReader(held[i]), getApp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("held conn %d: status %d", i, resp.StatusCode)
		}
	}

	third := rawConn(t, s.Addr())
	_, _ = io.WriteString(third, getApp)
	resp, body := readRaw(t, third)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection: status %d, want 503", resp.StatusCode)
	}
	if resp.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
	}
	if code := decodeError(t, body); code != "too_many_connections" {
		t.Errorf("error %q", code)
	}
	expectClosed(t, third)

	// The admin listener is not counted: metrics stay reachable.
	if resp, _ := get(t, newClient(t), "http://"+s.AdminAddr()+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("admin unreachable at the limit: %d", resp.StatusCode)
	}

	// Closing one held connection frees its slot.
	_ = held[0].Close()
	eventually(t, "a freed slot", func() bool {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(testTimeout))
		_, _ = io.WriteString(c, getApp)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		return err == nil && resp.StatusCode == http.StatusOK
	})
	if up.requests.Load() < 3 {
		t.Errorf("upstream saw %d requests", up.requests.Load())
	}
}

func TestMaxConnectionsPerIP(t *testing.T) {
	up := startUpstream(t, "app")
	s := startServer(t, baseYAML+`
limits:
  max_connections_per_ip: 1
routes:
`+route("/app", up.URL), Deps{})

	first := rawConn(t, s.Addr())
	resp, _ := roundTrip(t, first, bufio.NewReader(first), getApp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	second := rawConn(t, s.Addr())
	_, _ = io.WriteString(second, getApp)
	resp, body := readRaw(t, second)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second: status %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code := decodeError(t, body); code != "too_many_connections_per_ip" {
		t.Errorf("error %q", code)
	}

	_ = first.Close()
	eventually(t, "the per-IP slot to free", func() bool {
		resp, err := newClient(t).Get("http://" + s.Addr() + "/app")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestSlowlorisIsCut(t *testing.T) {
	up := startUpstream(t, "app")
	s := startServer(t, baseYAML+`
limits:
  read_header_timeout: 300ms
routes:
`+route("/app", up.URL), Deps{})

	c := rawConn(t, s.Addr())
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		expectClosedQuietly(c)
	}()
	// One byte every 50ms, forever: only the server can end this.
	request := "GET /app HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 10000)
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.After(testTimeout)
	for i := 0; ; i++ {
		select {
		case <-closed:
			if up.requests.Load() != 0 {
				t.Errorf("the slow request reached the upstream")
			}
			return
		case <-deadline:
			t.Fatal("server never closed a connection sending headers a byte at a time")
		case <-ticker.C:
			if _, err := c.Write([]byte{request[i%len(request)]}); err != nil {
				<-closed
				return
			}
		}
	}
}

func expectClosedQuietly(c net.Conn) {
	buf := make([]byte, 1024)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func TestMalformedRequests(t *testing.T) {
	up := startUpstream(t, "app")
	s := startServer(t, baseYAML+`
limits:
  max_header_bytes: 8KiB
routes:
`+route("/app", up.URL), Deps{})

	manyHeaders := func(n int) string {
		var b strings.Builder
		b.WriteString("GET /app HTTP/1.1\r\nHost: x\r\n")
		for i := range n {
			fmt.Fprintf(&b, "X-H%d: v\r\n", i)
		}
		b.WriteString("\r\n")
		return b.String()
	}
	cases := []struct {
		name     string
		raw      string
		status   int
		code     string
		upstream bool // may reach the upstream
	}{
		{"garbage request line", "\x16\x03\x01garbage\r\n\r\n", 400, "bad_request", false},
		{"not http at all", "HELLO\r\n\r\n", 400, "bad_request", false},
		{"missing host", "GET /app HTTP/1.1\r\n\r\n", 400, "bad_request", false},
		{"header of 100KiB", "GET /app HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 100<<10) + "\r\n\r\n", 431, "header_too_large", false},
		{"2000 headers", manyHeaders(2000), 431, "header_too_large", false},
		{"bad transfer encoding", "POST /app HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented", false},
		{"content-length and transfer-encoding",
			"POST /app HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			400, "ambiguous_length", false},
		{"transfer-encoding then content-length",
			"POST /app HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			400, "ambiguous_length", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.requests.Load()
			c := rawConn(t, s.Addr())
			_, _ = io.WriteString(c, tc.raw)
			resp, body := readRaw(t, c)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			if code := decodeError(t, body); code != tc.code {
				t.Errorf("error %q, want %q", code, tc.code)
			}
			if !tc.upstream && up.requests.Load() != before {
				t.Errorf("request reached the upstream")
			}
		})
	}

	// A few hundred headers within max_header_bytes are fine.
	c := rawConn(t, s.Addr())
	resp, body := roundTrip(t, c, bufio.NewReader(c), manyHeaders(300))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("300 small headers: %d %s", resp.StatusCode, body)
	}

	// A plain chunked request still works (no false positive), and so
	// does a request whose body looks like a smuggled head.
	smuggleText := "GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	c = rawConn(t, s.Addr())
	br := bufio.NewReader(c)
	resp, body = roundTrip(t, c, br, fmt.Sprintf("POST /app HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(smuggleText), smuggleText))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("non-chunked request with a head-like body: %d %s", resp.StatusCode, body)
	}
	c = rawConn(t, s.Addr())
	resp, body = roundTrip(t, c, bufio.NewReader(c), "POST /app HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	var got echoReply
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Body != "hello" {
		t.Fatalf("chunked request: %d %s", resp.StatusCode, body)
	}
}

// With the default max_header_bytes (64KiB) 2,000 small headers are a valid
// request and reach the upstream, while one header of 100 KiB gets 431.
func TestManyHeadersWithDefaultLimits(t *testing.T) {
	up := startUpstream(t, "app")
	s := startServer(t, baseYAML+"routes:\n"+route("/app", up.URL), Deps{})
	var b strings.Builder
	b.WriteString("GET /app HTTP/1.1\r\nHost: x\r\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "X-H%d: v\r\n", i)
	}
	b.WriteString("\r\n")
	c := rawConn(t, s.Addr())
	resp, body := roundTrip(t, c, bufio.NewReader(c), b.String())
	if resp.StatusCode != http.StatusOK || up.requests.Load() != 1 {
		t.Fatalf("2000 headers: %d %s (upstream saw %d)", resp.StatusCode, body, up.requests.Load())
	}

	c = rawConn(t, s.Addr())
	_, _ = io.WriteString(c, "GET /app HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\n\r\n")
	resp, body = readRaw(t, c)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || decodeError(t, body) != "header_too_large" {
		t.Fatalf("100 KiB header: %d %s", resp.StatusCode, body)
	}
}

func TestReloadChangesConnectionLimit(t *testing.T) {
	up := startUpstream(t, "app")
	yaml := func(max int) string {
		return baseYAML + "limits:\n  max_connections: " + fmt.Sprint(max) + "\nroutes:\n" + route("/app", up.URL)
	}
	s := startServer(t, yaml(1), Deps{})
	held := rawConn(t, s.Addr())
	if resp, _ := roundTrip(t, held, bufio.NewReader(held), getApp); resp.StatusCode != http.StatusOK {
		t.Fatalf("held: %d", resp.StatusCode)
	}
	second := rawConn(t, s.Addr())
	_, _ = io.WriteString(second, getApp)
	if resp, _ := readRaw(t, second); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("over the limit: %d", resp.StatusCode)
	}
	if err := s.Reload(parseConfig(t, yaml(2))); err != nil {
		t.Fatal(err)
	}
	third := rawConn(t, s.Addr())
	if resp, _ := roundTrip(t, third, bufio.NewReader(third), getApp); resp.StatusCode != http.StatusOK {
		t.Fatalf("after raising the limit: %d", resp.StatusCode)
	}
}
