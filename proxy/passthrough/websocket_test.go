package passthrough

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/config"
)

// echoUpstream is a gorilla WebSocket server that echoes every message. The
// close code it receives (if any) is sent on closes; offered subprotocols
// on offers.
type echoUpstream struct {
	srv    *httptest.Server
	closes chan int
	offers chan string
}

func newEchoUpstream(t testing.TB, tlsServer bool, protocols ...string) *echoUpstream {
	t.Helper()
	e := &echoUpstream{closes: make(chan int, 64), offers: make(chan string, 64)}
	upgrader := websocket.Upgrader{Subprotocols: protocols}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trySend(e.offers, r.Header.Get("Sec-WebSocket-Protocol"))
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					trySend(e.closes, ce.Code)
				}
				return
			}
			if err := c.WriteMessage(mt, data); err != nil {
				return
			}
		}
	})
	if tlsServer {
		e.srv = httptest.NewTLSServer(handler)
	} else {
		e.srv = httptest.NewServer(handler)
	}
	// Registered before the gateway, so it runs after the gateway's cleanup.
	t.Cleanup(e.srv.Close)
	return e
}

// trySend never blocks a server goroutine on a test channel.
func trySend[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func wsURL(srv *httptest.Server, path string) string {
	return "ws://" + hostOf(srv) + path
}

func dialWS(t testing.TB, url string, protocols ...string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testDeadline, Subprotocols: protocols}
	c, res, err := d.Dial(url, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(testDeadline))
	return c
}

func message(i int) (int, []byte) {
	size := 1 + i%300
	switch {
	case i%250 == 0:
		size = 70_000 // 64-bit length
	case i%97 == 0:
		size = 20_000 // 16-bit length, larger than the copy buffer
	}
	if i%2 == 0 {
		return websocket.TextMessage, []byte(fmt.Sprintf("%06d:%s", i, strings.Repeat("t", size)))
	}
	return websocket.BinaryMessage, append([]byte(fmt.Sprintf("%06d:", i)), bytes.Repeat([]byte{byte(i)}, size)...)
}

// TestWebSocketEcho sends 1,000 text and 1,000 binary messages through the
// tunnel while reading the echoes; all must come back in order and intact.
func TestWebSocketEcho(t *testing.T) {
	up := newEchoUpstream(t, false)
	gw := newGateway(t, route("/ws", up.srv.URL), nil)
	c := dialWS(t, wsURL(gw.srv, "/ws"))
	if n := gw.h.Tunnels(); n != 1 {
		t.Errorf("Tunnels() = %d, want 1", n)
	}

	const total = 2000
	writeErr := make(chan error, 1)
	go func() {
		for i := range total {
			mt, data := message(i)
			if err := c.WriteMessage(mt, data); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	for i := range total {
		mt, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		wantType, want := message(i)
		if mt != wantType || !bytes.Equal(data, want) {
			t.Fatalf("message %d: type %d len %d, want type %d len %d", i, mt, len(data), wantType, len(want))
		}
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("close answer: %v", err)
	}
	if code := recv(t, up.closes); code != websocket.CloseNormalClosure {
		t.Errorf("upstream saw close %d", code)
	}
	eventually(t, "tunnel count back to 0", func() bool { return gw.h.Tunnels() == 0 })
}

func TestWebSocketSubprotocol(t *testing.T) {
	up := newEchoUpstream(t, false, "chat.v2")
	gw := newGateway(t, route("/ws", up.srv.URL), nil)
	c := dialWS(t, wsURL(gw.srv, "/ws"), "chat.v1", "chat.v2")
	if got := c.Subprotocol(); got != "chat.v2" {
		t.Errorf("client subprotocol %q, want chat.v2", got)
	}
	if offered := recv(t, up.offers); offered != "chat.v1, chat.v2" {
		t.Errorf("upstream was offered %q", offered)
	}
}

func TestWebSocketUpstreamCloseCode(t *testing.T) {
	upgrader := websocket.Upgrader{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte("hello"))
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(testDeadline))
		_ = c.SetReadDeadline(time.Now().Add(testDeadline))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	gw := newGateway(t, route("/ws", up.URL), nil)
	c := dialWS(t, wsURL(gw.srv, "/ws"))
	if _, data, err := c.ReadMessage(); err != nil || string(data) != "hello" {
		t.Fatalf("first message %q, %v", data, err)
	}
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "bye" {
		t.Fatalf("got %v, want close 4001 bye", err)
	}
	eventually(t, "tunnel count back to 0", func() bool { return gw.h.Tunnels() == 0 })
}

// rawUpstream accepts connections, reads one request and runs answer; it
// then counts the bytes that still arrive until EOF and reports them.
type rawUpstream struct {
	ln       net.Listener
	accepted chan struct{}
	leftover chan int
	wg       sync.WaitGroup
}

func newRawUpstream(t *testing.T, answer func(conn net.Conn, req *http.Request)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, accepted: make(chan struct{}, 16), leftover: make(chan int, 16)}
	u.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			trySend(u.accepted, struct{}{})
			u.wg.Go(func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(testDeadline))
				br := bufio.NewReader(conn)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				answer(conn, req)
				n, _ := io.Copy(io.Discard, br)
				trySend(u.leftover, int(n))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

const clientKey = "dGhlIHNhbXBsZSBub25jZQ=="

func handshake(path string, extra string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + clientKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// maskedFrame is a client text frame.
func maskedFrame(payload string) []byte {
	key := []byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(payload))}
	f = append(f, key...)
	for i := range len(payload) {
		f = append(f, payload[i]^key[i%4])
	}
	return f
}

// TestWebSocketForgedUpgrades: anything but a valid 101 for the client's
// key is a 502, the client connection is closed, and no client byte (sent
// before or after the answer) reaches the upstream.
func TestWebSocketForgedUpgrades(t *testing.T) {
	valid := func(req *http.Request) string { return acceptKey(req.Header.Get("Sec-WebSocket-Key")) }
	cases := map[string]func(conn net.Conn, req *http.Request){
		"426": func(conn net.Conn, req *http.Request) {
			io.WriteString(conn, "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n")
		},
		"200": func(conn net.Conn, req *http.Request) {
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
		},
		"101 wrong accept": func(conn net.Conn, req *http.Request) {
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n")
		},
		"101 without Upgrade": func(conn net.Conn, req *http.Request) {
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Accept: "+valid(req)+"\r\n\r\n")
		},
		"101 upgrade to h2c": func(conn net.Conn, req *http.Request) {
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Accept: "+valid(req)+"\r\n\r\n")
		},
		"101 unoffered subprotocol": func(conn net.Conn, req *http.Request) {
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Accept: "+valid(req)+"\r\nSec-WebSocket-Protocol: evil\r\n\r\n")
		},
		"garbage": func(conn net.Conn, req *http.Request) {
			io.WriteString(conn, "SSH-2.0-OpenSSH_9.6\r\n\r\n")
		},
		"no answer": func(conn net.Conn, req *http.Request) {
			conn.(*net.TCPConn).CloseWrite()
		},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			up := newRawUpstream(t, answer)
			gw := newGateway(t, route("/ws", up.url()), nil)

			conn, err := net.Dial("tcp", hostOf(gw.srv))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(testDeadline))
			// The handshake and a pipelined first frame in one write.
			if _, err := conn.Write(append([]byte(handshake("/ws", "")), maskedFrame("early")...)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			expectJSONError(t, res, string(body), http.StatusBadGateway, "bad_gateway")

			// The connection is not a tunnel: more bytes go nowhere and the
			// gateway closes it.
			_, _ = conn.Write(maskedFrame("after"))
			if rest, err := io.ReadAll(br); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) || len(rest) != 0 {
				t.Errorf("after the 502 the client read %q, %v; want EOF", rest, err)
			}
			if n := recv(t, up.leftover); n != 0 {
				t.Errorf("upstream received %d client bytes after its answer", n)
			}
			if k := gw.errors.list(); !slices.Equal(k, []string{KindUpgrade}) {
				t.Errorf("upstream error kinds %v", k)
			}
			if n := gw.h.Tunnels(); n != 0 {
				t.Errorf("Tunnels() = %d", n)
			}
		})
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// TestWebSocketPipelinedFirstFrame: a frame sent right behind the handshake
// is held until the upstream's 101 is validated, then forwarded.
func TestWebSocketPipelinedFirstFrame(t *testing.T) {
	up := newEchoUpstream(t, false)
	gw := newGateway(t, route("/ws", up.srv.URL), nil)
	conn, err := net.Dial("tcp", hostOf(gw.srv))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testDeadline))
	if _, err := conn.Write(append([]byte(handshake("/ws", "")), maskedFrame("early")...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Sec-WebSocket-Accept") != acceptKey(clientKey) {
		t.Fatalf("handshake answer %d %v", res.StatusCode, res.Header)
	}
	var hdr [maxFrameHeader]byte
	h, err := readFrameHeader(br, hdr[:])
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, h.length)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatal(err)
	}
	if h.opcode != 1 || h.masked || string(payload) != "early" {
		t.Fatalf("echo frame opcode %d masked %v payload %q", h.opcode, h.masked, payload)
	}
}

// TestWebSocketOversizedFrame: an upstream declaring a frame longer than
// 2^62 bytes gets the tunnel closed, and the client a 1002 close.
func TestWebSocketOversizedFrame(t *testing.T) {
	up := newRawUpstream(t, func(conn net.Conn, req *http.Request) {
		// The 101 and the first frames in a single write.
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n"+
			"\x81\x02hi"+"\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff")
	})
	gw := newGateway(t, route("/ws", up.url()), nil)
	c := dialWS(t, wsURL(gw.srv, "/ws"))
	if _, data, err := c.ReadMessage(); err != nil || string(data) != "hi" {
		t.Fatalf("first message %q, %v", data, err)
	}
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseProtocolError) {
		t.Fatalf("got %v, want close 1002", err)
	}
	c.Close()
	recv(t, up.leftover)
	eventually(t, "tunnel count back to 0", func() bool { return gw.h.Tunnels() == 0 })
}

func TestWebSocketBadClientRequests(t *testing.T) {
	up := newRawUpstream(t, func(net.Conn, *http.Request) {})
	gw := newGateway(t, route("/ws", up.url()), nil)
	key := "Sec-WebSocket-Key: " + clientKey + "\r\n"
	cases := []struct {
		name, req string
		status    int
		code      string
	}{
		{"post", "POST /ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key +
			"Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n", 405, "method_not_allowed"},
		{"no connection upgrade", "GET /ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n" + key +
			"Sec-WebSocket-Version: 13\r\n\r\n", 400, "bad_websocket_request"},
		{"version 8", "GET /ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key +
			"Sec-WebSocket-Version: 8\r\n\r\n", 426, "unsupported_websocket_version"},
		{"no key", "GET /ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\n\r\n", 400, "bad_websocket_request"},
		{"short key", "GET /ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "bad_websocket_request"},
		{"key not base64", "GET /ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "bad_websocket_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := rawRequest(t, hostOf(gw.srv), c.req)
			expectJSONError(t, res, body, c.status, c.code)
			if c.status == 426 && res.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Errorf("426 without Sec-WebSocket-Version: 13")
			}
		})
	}
	select {
	case <-up.accepted:
		t.Error("a bad client upgrade reached the upstream")
	default:
	}
}

func TestWebSocketUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	gw := newGateway(t, route("/ws", "ws://"+addr), nil)
	res, body := rawRequest(t, hostOf(gw.srv), handshake("/ws", ""))
	expectJSONError(t, res, body, http.StatusBadGateway, "bad_gateway")
	if k := gw.errors.list(); !slices.Equal(k, []string{KindDial}) {
		t.Errorf("upstream error kinds %v", k)
	}
}

func TestWebSocketUpstreamSlow(t *testing.T) {
	release := make(chan struct{})
	up := newRawUpstream(t, func(net.Conn, *http.Request) { <-release })
	rt := route("/ws", up.url())
	rt.Upstream.Timeout = config.Duration(100 * time.Millisecond)
	gw := newGateway(t, rt, nil)
	res, body := rawRequest(t, hostOf(gw.srv), handshake("/ws", ""))
	close(release)
	expectJSONError(t, res, body, http.StatusGatewayTimeout, "gateway_timeout")
	if k := gw.errors.list(); !slices.Equal(k, []string{KindTimeout}) {
		t.Errorf("upstream error kinds %v", k)
	}
}

// TestShutdownClosesTunnels: Shutdown sends 1001 to both ends, waits for the
// closing handshakes, and refuses new upgrades.
func TestShutdownClosesTunnels(t *testing.T) {
	up := newEchoUpstream(t, false)
	gw := newGateway(t, route("/ws", up.srv.URL), nil)

	const clients = 20
	closes := make(chan error, clients)
	for range clients {
		c := dialWS(t, wsURL(gw.srv, "/ws"))
		if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, data, err := c.ReadMessage(); err != nil || string(data) != "ping" {
			t.Fatalf("echo %q, %v", data, err)
		}
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					closes <- err // gorilla answers the close frame itself
					return
				}
			}
		}()
	}
	if n := gw.h.Tunnels(); n != clients {
		t.Fatalf("Tunnels() = %d, want %d", n, clients)
	}

	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := gw.h.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := gw.h.Tunnels(); n != 0 {
		t.Errorf("Tunnels() after Shutdown = %d", n)
	}
	for range clients {
		if err := recv(t, closes); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("client got %v, want close 1001", err)
		}
		if code := recv(t, up.closes); code != websocket.CloseGoingAway {
			t.Errorf("upstream got close %d, want 1001", code)
		}
	}

	res, body := rawRequest(t, hostOf(gw.srv), handshake("/ws", ""))
	expectJSONError(t, res, body, http.StatusServiceUnavailable, "shutting_down")
}

// TestShutdownUnresponsiveClient: a client that never answers the close is
// cut when the context ends; nothing is left running.
func TestShutdownUnresponsiveClient(t *testing.T) {
	up := newEchoUpstream(t, false)
	gw := newGateway(t, route("/ws", up.srv.URL), nil)
	_, br := rawTunnel(t, gw)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := gw.h.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	if n := gw.h.Tunnels(); n != 0 {
		t.Errorf("Tunnels() after Shutdown = %d", n)
	}
	// The client still finds the 1001 close frame, then the end.
	var hdr [maxFrameHeader]byte
	h, err := readFrameHeader(br, hdr[:])
	if err != nil || h.opcode != opClose || h.masked {
		t.Fatalf("frame %+v, %v", h, err)
	}
	payload := make([]byte, h.length)
	if _, err := io.ReadFull(br, payload); err != nil || payload[0] != 0x03 || payload[1] != 0xe9 {
		t.Fatalf("close payload %q, %v", payload, err)
	}
}

// TestWSSUpstream: wss:// upstreams use TLS (HTTP/1.1) for the tunnel, and
// https:// pass-through requests work on the same route.
func TestWSSUpstream(t *testing.T) {
	up := newEchoUpstream(t, true)
	roots := x509.NewCertPool()
	roots.AddCert(up.srv.Certificate())
	gw := newGateway(t, route("/ws", "wss://"+hostOf(up.srv)), &tls.Config{RootCAs: roots})
	c := dialWS(t, wsURL(gw.srv, "/ws"))
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if mt, data, err := c.ReadMessage(); err != nil || mt != websocket.BinaryMessage || !bytes.Equal(data, []byte{1, 2, 3}) {
		t.Fatalf("echo %d %v %v", mt, data, err)
	}
	// A plain request on the same route goes over https (the echo handler
	// answers a non-upgrade with 400 from gorilla).
	res, _ := rawRequest(t, hostOf(gw.srv), "GET /ws HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("plain request through https upstream: %d", res.StatusCode)
	}
}

// TestWSSUpstreamUntrusted: a TLS upstream with an unknown certificate is a
// 502 of kind tls.
func TestWSSUpstreamUntrusted(t *testing.T) {
	up := newEchoUpstream(t, true)
	gw := newGateway(t, route("/ws", "wss://"+hostOf(up.srv)), nil)
	res, body := rawRequest(t, hostOf(gw.srv), handshake("/ws", ""))
	expectJSONError(t, res, body, http.StatusBadGateway, "bad_gateway")
	if k := gw.errors.list(); !slices.Equal(k, []string{KindTLS}) {
		t.Errorf("upstream error kinds %v", k)
	}
}

// TestWebSocketHandshakeHeaders: the upstream handshake follows the same
// path rule and header rules as plain requests.
func TestWebSocketHandshakeHeaders(t *testing.T) {
	got := make(chan *http.Request, 1)
	up := newRawUpstream(t, func(conn net.Conn, req *http.Request) {
		got <- req
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\nSet-Cookie: s=1\r\n"+
			"X-Hop-Resp: no\r\nConnection: X-Hop-Resp\r\n\r\n")
	})
	rt := route("/live/{room}", up.url()+"/rooms/{room}")
	rt.Upstream.Headers = map[string]string{"X-Api-Key": "k"}
	gw := newGateway(t, rt, nil)

	conn, err := net.Dial("tcp", hostOf(gw.srv))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testDeadline))
	io.WriteString(conn, "GET /live/r%201/ws?x=1 HTTP/1.1\r\nHost: public.example\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade, X-Hop\r\nX-Hop: no\r\nSec-WebSocket-Key: "+clientKey+"\r\nSec-WebSocket-Version: 13\r\n"+
		"Origin: https://public.example\r\nCookie: a=b\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Set-Cookie") != "s=1" || res.Header.Get("X-Hop-Resp") != "" {
		t.Errorf("client got %d %v", res.StatusCode, res.Header)
	}
	req := recv(t, got)
	if req.RequestURI != "/rooms/r%201/ws?x=1" {
		t.Errorf("upstream request URI %q", req.RequestURI)
	}
	want := map[string]string{
		"Host": hostOf2(up.url()), "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "public.example",
		"X-Forwarded-Proto": "http", "X-Api-Key": "k", "Origin": "https://public.example", "Cookie": "a=b",
		"Upgrade": "websocket", "Connection": "Upgrade", "Sec-Websocket-Key": clientKey,
	}
	req.Header.Set("Host", req.Host)
	for name, v := range want {
		if got := req.Header.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("upstream %s = %q, want %q", name, got, v)
		}
	}
	for _, name := range []string{"X-Hop", "Forwarded"} {
		if v := req.Header.Get(name); v != "" {
			t.Errorf("upstream got %s: %q", name, v)
		}
	}
}

func hostOf2(url string) string { return strings.TrimPrefix(url, "http://") }

// TestHTTPSUpstreamUntrusted: a plain request to an https upstream with an
// unknown certificate is a 502 of kind tls.
func TestHTTPSUpstreamUntrusted(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(up.Close)
	gw := newGateway(t, route("/", up.URL), nil)
	res, body := rawRequest(t, hostOf(gw.srv), "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
	expectJSONError(t, res, body, http.StatusBadGateway, "bad_gateway")
	if k := gw.errors.list(); !slices.Equal(k, []string{KindTLS}) {
		t.Errorf("upstream error kinds %v", k)
	}
}

// TestShutdownClosesPooledConnections: a request in flight during Shutdown
// completes, and its upstream connection is closed rather than pooled.
func TestShutdownClosesPooledConnections(t *testing.T) {
	release := make(chan struct{})
	closed := make(chan struct{}, 4)
	arrived := make(chan struct{}, 1)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trySend(arrived, struct{}{})
		<-release
		io.WriteString(w, "done")
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			trySend(closed, struct{}{})
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	gw := newGateway(t, route("/", up.URL), nil)

	type result struct {
		body string
		err  error
	}
	results := make(chan result, 1)
	go func() {
		res, err := gw.srv.Client().Get(gw.srv.URL + "/")
		if err != nil {
			results <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		results <- result{string(b), err}
	}()
	select {
	case <-arrived:
	case <-time.After(testDeadline):
		t.Fatal("the request never reached the upstream")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := gw.h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(release)
	if r := recv(t, results); r.err != nil || r.body != "done" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	select {
	case <-closed:
	case <-time.After(testDeadline):
		t.Fatal("the upstream connection stayed open after Shutdown")
	}
}

// TestWebSocketCompressionPassesThrough: permessage-deflate is negotiated
// end to end; compressed frames (RSV1) cross the tunnel untouched.
func TestWebSocketCompressionPassesThrough(t *testing.T) {
	upgrader := websocket.Upgrader{EnableCompression: true}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, data); err != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	gw := newGateway(t, route("/ws", up.URL), nil)
	d := websocket.Dialer{HandshakeTimeout: testDeadline, EnableCompression: true}
	c, res, err := d.Dial(wsURL(gw.srv, "/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ext := res.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("extension not negotiated: %q", ext)
	}
	msg := strings.Repeat("compress me ", 1000)
	for range 10 {
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, data, err := c.ReadMessage(); err != nil || string(data) != msg {
			t.Fatalf("echo len %d, %v", len(data), err)
		}
	}
}

// TestShutdownStuckClient: the upstream floods a client that never reads,
// so the copier is stuck mid-write holding the client side; Shutdown gives
// up at its deadline, cuts the tunnel and leaves nothing running.
func TestShutdownStuckClient(t *testing.T) {
	upgrader := websocket.Upgrader{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		chunk := bytes.Repeat([]byte{1}, 64<<10)
		for {
			_ = c.SetWriteDeadline(time.Now().Add(testDeadline))
			if err := c.WriteMessage(websocket.BinaryMessage, chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	gw := newGateway(t, route("/ws", up.URL), nil)
	conn, err := net.Dial("tcp", hostOf(gw.srv))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testDeadline))
	if _, err := io.WriteString(conn, handshake("/ws", "")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "tunnel open", func() bool { return gw.h.Tunnels() == 1 })
	// Never read: kernel buffers fill and the gateway's write blocks.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := gw.h.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	if n := gw.h.Tunnels(); n != 0 {
		t.Errorf("Tunnels() after Shutdown = %d", n)
	}
}

// TestWebSocketOverTLSListener: the gateway itself serves HTTPS; the
// hijacked connection is a TLS connection and the tunnel works the same,
// including a clean close.
func TestWebSocketOverTLSListener(t *testing.T) {
	up := newEchoUpstream(t, false)
	h, err := New(Options{Route: route("/ws", up.srv.URL), Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	d := websocket.Dialer{HandshakeTimeout: testDeadline, TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig}
	c, _, err := d.Dial("wss://"+hostOf(srv)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(testDeadline))
	for i := range 100 {
		mt, data := message(i)
		if err := c.WriteMessage(mt, data); err != nil {
			t.Fatal(err)
		}
		if gotType, got, err := c.ReadMessage(); err != nil || gotType != mt || !bytes.Equal(got, data) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("close answer: %v", err)
	}
	eventually(t, "tunnel count back to 0", func() bool { return h.Tunnels() == 0 })
}
