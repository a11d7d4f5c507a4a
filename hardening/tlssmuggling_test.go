package hardening

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// dialTLS opens a TLS connection to the gateway's HTTPS listener offering
// only the given ALPN protocol.
func dialTLS(t *testing.T, g *gateway, proto string) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", g.srv.TLSAddr(),
		&tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}})
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// TestTLSRequestSmugglingRefused: every smuggling shape of
// TestRequestSmugglingRefused over TLS with HTTP/1.1. A request with both
// Content-Length and Transfer-Encoding gets 400 ambiguous_length and the
// connection is closed, so the request behind it is never served; the
// errors net/http answers itself are JSON here too.
func TestTLSRequestSmugglingRefused(t *testing.T) {
	app := newHTTPApp(t)
	g := tlsGateway(t, "", passthroughYAML(app.srv.URL))
	expectSmugglingRefused(t, app, func(t *testing.T) net.Conn { return dialTLS(t, g, "http/1.1") })
}

// TestPlainHTTPOnTLSListener: a plain HTTP request to the HTTPS listener
// gets 400 as JSON and the connection is closed.
func TestPlainHTTPOnTLSListener(t *testing.T) {
	app := newHTTPApp(t)
	g := tlsGateway(t, "", passthroughYAML(app.srv.URL))
	c, err := net.DialTimeout("tcp", g.srv.TLSAddr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	res, body := exchangeOn(t, c, "GET /app/x HTTP/1.1\r\nHost: x\r\n\r\n")
	if res == nil {
		t.Fatal("no answer")
	}
	if a := (answer{status: res.StatusCode, header: res.Header, body: cutAtClose(body)}); a.status != 400 || a.errorCode() != "bad_request" {
		t.Errorf("%d %q, want 400 bad_request", a.status, a.body)
	}
	if len(app.seen()) != 0 {
		t.Errorf("the upstream was asked: %v", app.seen())
	}
}
