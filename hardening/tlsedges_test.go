package hardening

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// tlsGateway starts the gateway with a static certificate on a TLS
// listener (plain listener serving routes too) and extra tls keys.
func tlsGateway(t *testing.T, tlsExtra, routes string) *gateway {
	t.Helper()
	certFile, keyFile := selfSignedFiles(t)
	return startGateway(t, "tls: {listen: 127.0.0.1:0, cert_file: "+certFile+", key_file: "+keyFile+", redirect_http: false"+tlsExtra+"}\n"+routes)
}

// TestTLSRefusesCBCSHA1Suites: a TLS 1.2 client that offers only the
// AES-CBC with HMAC-SHA1 suites Go accepts by default gets no handshake;
// one offering an AEAD suite does.
func TestTLSRefusesCBCSHA1Suites(t *testing.T) {
	app := newHTTPApp(t)
	g := tlsGateway(t, "", passthroughYAML(app.srv.URL))
	handshake := func(suite uint16) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", g.srv.TLSAddr(), &tls.Config{
			InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite},
		})
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, suite := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA} {
		if err := handshake(suite); err == nil {
			t.Errorf("%s: handshake succeeded", tls.CipherSuiteName(suite))
		}
	}
	for _, suite := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256} {
		if err := handshake(suite); err != nil {
			t.Errorf("%s: %v", tls.CipherSuiteName(suite), err)
		}
	}
}

// TestHSTSOnTLSListenerOnly: with tls.hsts every answer of the TLS listener
// (HTTP/1.1 and HTTP/2, pass-through and the gateway's own errors) carries
// exactly the configured Strict-Transport-Security, replacing the
// upstream's; the plain listener never sends it, and without tls.hsts
// nothing does.
func TestHSTSOnTLSListenerOnly(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=0")
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(up.Close)
	routes := passthroughYAML(up.URL)
	g := tlsGateway(t, ", hsts: {max_age: 1h, include_subdomains: true}", routes)
	const want = "max-age=3600; includeSubDomains"
	for _, h2 := range []bool{false, true} {
		c := tlsClient(h2)
		for _, path := range []string{"/app/x", "/nothing"} {
			res, err := c.Get("https://" + g.srv.TLSAddr() + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := res.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != want {
				t.Errorf("%s %s: Strict-Transport-Security %q, want %q", res.Proto, path, got, want)
			}
		}
	}
	if a := get(t, g.URL+"/nothing", nil); a.header.Get("Strict-Transport-Security") != "" {
		t.Errorf("plain listener sent %q", a.header.Get("Strict-Transport-Security"))
	}
	off := tlsGateway(t, "", routes)
	res, err := tlsClient(false).Get("https://" + off.srv.TLSAddr() + "/nothing")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if v := res.Header.Get("Strict-Transport-Security"); v != "" {
		t.Errorf("without tls.hsts: %q", v)
	}
}

// tlsClient trusts any certificate and speaks HTTP/2 or HTTP/1.1 only.
func tlsClient(h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(!h2)
	tr.Protocols.SetHTTP2(h2)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
