package loadgen

import (
	"bufio"
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// TestRawClientFraming answers three requests on one kept-alive connection
// (Content-Length, chunked with a trailer, 304 without a body), then one
// close-delimited answer, and checks that the client reads each one whole.
func TestRawClientFraming(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answers := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nEtag: \"e1\"\r\nLast-Modified: Mon\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close",
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for next := 0; next < len(answers); next++ {
			for { // skip the request head
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					break
				}
			}
			c.Write([]byte(answers[next]))
		}
	}()
	c, err := newRawClient("http://"+ln.Addr().String()+"/sub/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want := []struct {
		status int
		body   string
	}{{200, "hello"}, {200, "abcde"}, {304, ""}, {200, "until close"}}
	var resp rawResponse
	for i, w := range want {
		if err := c.get(ctx, []byte("a=1"), []string{"If-None-Match", "x"}, &resp); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if resp.status != w.status || string(resp.body) != w.body {
			t.Fatalf("answer %d: %d %q, want %d %q", i, resp.status, resp.body, w.status, w.body)
		}
		if i == 0 && (string(resp.etag) != `"e1"` || string(resp.lastModified) != "Mon") {
			t.Fatalf("headers: etag %q last-modified %q", resp.etag, resp.lastModified)
		}
	}
	c.close()
	wg.Wait()
}
