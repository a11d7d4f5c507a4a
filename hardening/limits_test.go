package hardening

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// keptConn is a keep-alive client connection from a chosen local address.
type keptConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialFrom(t *testing.T, g *gateway, localIP string) *keptConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	c, err := d.Dial("tcp", g.addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", localIP, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &keptConn{c: c, br: bufio.NewReader(c)}
}

// get sends a keep-alive GET and reads the answer.
func (k *keptConn) get(t *testing.T, path string) answer {
	t.Helper()
	if _, err := io.WriteString(k.c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return answer{status: -1}
	}
	res, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return answer{status: -1}
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// TestConnectionLimits: beyond max_connections_per_ip a client gets 429,
// beyond max_connections 503 (JSON, Retry-After); admitted connections
// keep working and a freed slot is usable again.
func TestConnectionLimits(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "limits: {max_connections: 6, max_connections_per_ip: 3}\n"+bridgedYAML(app))
	var held []*keptConn
	admit := func(ip string) {
		k := dialFrom(t, g, ip)
		if a := k.get(t, "/feed/poll"); a.status != 200 {
			t.Fatalf("admitted connection from %s: %d %s", ip, a.status, a.body)
		}
		held = append(held, k)
	}
	for range 3 {
		admit("127.0.0.1")
	}
	perIP := dialFrom(t, g, "127.0.0.1").get(t, "/feed/poll")
	expectError(t, "fourth from one address", perIP, 429, "too_many_connections_per_ip")
	if perIP.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	for range 3 {
		admit("127.0.0.2")
	}
	total := dialFrom(t, g, "127.0.0.3").get(t, "/feed/poll")
	expectError(t, "beyond max_connections", total, 503, "too_many_connections")
	if total.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	// The admitted connections are still served.
	for _, k := range held {
		if a := k.get(t, "/feed/poll?wait=0"); a.status != 200 {
			t.Errorf("held connection answered %d", a.status)
		}
	}
	if n := g.metric("bridgeway_proxy_rejected_connections_total", `reason="max_connections_per_ip"`); n < 1 {
		t.Errorf("per-IP rejections counted %v", n)
	}
	if n := g.metric("bridgeway_proxy_rejected_connections_total", `reason="max_connections"`); n < 1 {
		t.Errorf("total rejections counted %v", n)
	}
	// A freed slot is usable again.
	_ = held[0].c.Close()
	eventually(t, "a slot to free up", func() bool {
		return g.metric("bridgeway_proxy_open_connections") == 5
	})
	if a := dialFrom(t, g, "127.0.0.1").get(t, "/feed/poll?wait=0"); a.status != 200 {
		t.Errorf("after a slot was freed: %d %s", a.status, a.body)
	}
}
