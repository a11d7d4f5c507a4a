package bridge_test

// HTTP/1.0 and 1.1 framing of SockJS answers (sockjs-protocol: Http10,
// Http11), on raw sockets.

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestSockJSHTTP10(t *testing.T) {
	s := newSockJSServices(t)
	_, br := rawRequest(t, s.echo, "GET /echo HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(resp.TransferEncoding) != 0 || string(body) != "Welcome to SockJS!\n" {
		t.Fatalf("HTTP/1.0 greeting: %d %v %q", resp.StatusCode, resp.TransferEncoding, body)
	}

	// A stream over HTTP/1.0: no chunking, no length, ended by closing.
	_, br = rawRequest(t, s.close, "POST /close/000/"+newSID()+"/xhr_streaming HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
	resp, err = http.ReadResponse(br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(resp.TransferEncoding) != 0 || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("HTTP/1.0 stream: %d %v %v", resp.StatusCode, resp.TransferEncoding, resp.Header)
	}
	body, err = io.ReadAll(resp.Body)
	want := strings.Repeat("h", 2048) + "\no\nc[3000,\"Go away!\"]\n"
	if err != nil || string(body) != want {
		t.Fatalf("HTTP/1.0 stream body %q (%v)", body, err)
	}
}

func TestSockJSHTTP11(t *testing.T) {
	s := newSockJSServices(t)
	// Keep-alive: the greeting has a length (or is chunked) and the
	// connection takes a second request.
	_, br := rawRequest(t, s.echo, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 0; i < 2; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("keep-alive request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Close || string(body) != "Welcome to SockJS!\n" {
			t.Fatalf("keep-alive request %d: %d close=%v %q", i, resp.StatusCode, resp.Close, body)
		}
	}
	_, br = rawRequest(t, s.close, "POST /close/000/"+newSID()+"/xhr_streaming HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive\r\n\r\n")
	resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("HTTP/1.1 stream: %d %v %v", resp.StatusCode, resp.TransferEncoding, resp.Header)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != strings.Repeat("h", 2048)+"\no\nc[3000,\"Go away!\"]\n" {
		t.Fatalf("HTTP/1.1 stream body %q (%v)", body, err)
	}
}
