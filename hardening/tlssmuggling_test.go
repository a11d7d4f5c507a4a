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
