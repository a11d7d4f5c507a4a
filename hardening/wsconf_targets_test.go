package hardening

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// wsconfTarget is a WebSocket endpoint under test.
type wsconfTarget struct {
	name string
	// open returns a connection with the handshake done, ready for frames.
	open func(t *testing.T, caseNo int) (net.Conn, *bufio.Reader)
}

// wsconfEcho is the reference, and the upstream of every gateway path: a
// gorilla echo server as in gorilla's own Autobahn server (text is checked
// for UTF-8, which gorilla's reader leaves to the application). It ends
// with a FIN and reads what the client still sends before closing: closing
// over unread bytes (a ping after the client's close) would reset the
// connection and could destroy the close frame, and the reference would
// not answer the same way twice.
func wsconfEcho(t *testing.T) *httptest.Server {
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer func() {
			if tc, ok := ws.NetConn().(*net.TCPConn); ok && tc.CloseWrite() == nil {
				_ = tc.SetReadDeadline(time.Now().Add(wsconfGuard))
				_, _ = io.Copy(io.Discard, tc)
			}
			_ = ws.Close()
		}()
		for {
			op, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if op == websocket.TextMessage && !utf8.Valid(data) {
				_ = ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""), time.Now().Add(time.Second))
				return
			}
			if ws.WriteMessage(op, data) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// wsconfTargets starts the gateway (plain and TLS listeners) in front of
// echo and returns the reference and every gateway path.
func wsconfTargets(t *testing.T, echo *httptest.Server) []wsconfTarget {
	certFile, keyFile := selfSignedFiles(t)
	wsEcho := "ws" + strings.TrimPrefix(echo.URL, "http")
	// A topic per broadcast case (two targets): past the per-address
	// default of 100 topics.
	g := startGateway(t, "tls: {listen: 127.0.0.1:0, cert_file: "+certFile+", key_file: "+keyFile+", redirect_http: false}\n"+
		"limits: {max_topics_per_ip: 0}\n"+
		"routes:\n"+
		"  - path: /s\n    upstream: {url: \""+wsEcho+"/echo\"}\n    heartbeat: 60s\n"+
		"  - path: /b/{room}\n    mode: broadcast\n    client_send: true\n    heartbeat: 60s\n"+
		"    upstream: {url: \""+wsEcho+"/echo?room={room}\"}\n"+
		"  - path: /t\n    upstream: {url: \""+echo.URL+"\", kind: http}\n")
	plain := func(addr string) func(t *testing.T) net.Conn {
		return func(t *testing.T) net.Conn {
			c, err := net.DialTimeout("tcp", addr, wsconfGuard)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	secure := func(t *testing.T) net.Conn {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: wsconfGuard}, "tcp", g.srv.TLSAddr(),
			&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) // the test's own certificate
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var rooms atomic.Int64
	paths := func(name string, dial func(*testing.T) net.Conn, path string, broadcast bool) wsconfTarget {
		return wsconfTarget{name: name, open: func(t *testing.T, caseNo int) (net.Conn, *bufio.Reader) {
			p := path
			if broadcast {
				p = "/b/r" + strconv.FormatInt(rooms.Add(1), 10) + "/ws" // a topic per case
			}
			c, br := wsconfHandshake(t, dial(t), p)
			if broadcast {
				wsconfTopicReady(t, g, c, br, p)
			}
			return c, br
		}}
	}
	return []wsconfTarget{
		paths("gorilla", plain(strings.TrimPrefix(echo.URL, "http://")), "/echo", false),
		paths("session", plain(g.addr), "/s/ws", false),
		paths("broadcast", plain(g.addr), "", true),
		paths("tunnel", plain(g.addr), "/t/echo", false),
		paths("session+tls", secure, "/s/ws", false),
		paths("broadcast+tls", secure, "", true),
		paths("tunnel+tls", secure, "/t/echo", false),
	}
}

// wsconfHandshake opens a WebSocket on c.
func wsconfHandshake(t *testing.T, c net.Conn, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(wsconfDeadline(t))
	req := "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake %s: %v %v", path, res, err)
	}
	return c, br
}

// wsconfTopicReady waits until the broadcast topic's upstream is connected
// (a send is accepted, not 503) and its echo came back, so the case's
// frames never meet a topic still dialling.
func wsconfTopicReady(t *testing.T, g *gateway, c net.Conn, br *bufio.Reader, wsPath string) {
	t.Helper()
	send := g.URL + strings.TrimSuffix(wsPath, "/ws") + "/send"
	deadline := wsconfDeadline(t)
	for {
		res, err := http.Post(send, "text/plain", strings.NewReader("ready"))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode == http.StatusNoContent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: send answered %d", wsPath, res.StatusCode)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f, err := readServerFrame(br)
	if err != nil || string(f.payload) != "ready" {
		t.Fatalf("topic %s: first frame %q, %v", wsPath, f.payload, err)
	}
}
