package certs

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/config"
)

func TestStaticPairServesHTTP2AndHTTP11(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, certPEM := selfSigned(t, dir, "gw.bridgeway.test", "127.0.0.1")

	m, err := New(context.Background(), &config.TLS{CertFile: certFile, KeyFile: keyFile}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer m.Close()
	if !m.Ready() {
		t.Fatal("a static pair must be ready at once")
	}
	if got := m.TLSConfig().NextProtos; strings.Join(got, ",") != "h2,http/1.1" {
		t.Fatalf("NextProtos = %v, want [h2 http/1.1]", got)
	}

	ln := listen(t)
	serveHTTPS(t, ln, m.TLSConfig(), protoHandler)
	url := "https://gw.bridgeway.test/"

	for _, tc := range []struct {
		name      string
		http2     bool
		wantProto string
	}{
		{"h2", true, "HTTP/2.0"},
		{"http1.1", false, "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, httpsClient(t, certPEM, ln.Addr().String(), tc.http2), url)
			if resp.StatusCode != 200 || body != "hello over "+tc.wantProto || resp.Proto != tc.wantProto {
				t.Fatalf("got %d %s %q, want 200 %s", resp.StatusCode, resp.Proto, body, tc.wantProto)
			}
			if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "bridgeway test" {
				t.Fatalf("served certificate CN %q", cn)
			}
		})
	}
}

func TestStaticHTTPHandlerPassesThrough(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t, t.TempDir(), "localhost")
	m, err := New(context.Background(), &config.TLS{CertFile: certFile, KeyFile: keyFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer m.Close() // idempotent
	ln := listen(t)
	serveHTTP(t, ln, m.HTTPHandler(protoHandler))
	resp, body := get(t, plainClient(t), "http://"+ln.Addr().String()+"/.well-known/acme-challenge/x")
	if resp.StatusCode != 200 || body != "hello over HTTP/1.1" {
		t.Fatalf("got %d %q: without ACME every request goes to next", resp.StatusCode, body)
	}
}

func TestConfigErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir, "localhost")
	otherDir := t.TempDir()
	otherCert, _, _ := selfSigned(t, otherDir, "other")
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, []byte("not a pem file\n"))
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name string
		cfg  *config.TLS
		want []string // substrings of the error
	}{
		{"nil config", nil, []string{"no tls config"}},
		{"nothing", &config.TLS{}, []string{"acme or cert_file"}},
		{"both sources", &config.TLS{CertFile: certFile, KeyFile: keyFile, ACME: &config.ACME{Domains: []string{"x.test"}}}, []string{"exclusive"}},
		{"cert without key", &config.TLS{CertFile: certFile}, []string{"key_file is empty", certFile}},
		{"key without cert", &config.TLS{KeyFile: keyFile}, []string{"cert_file is empty", keyFile}},
		{"missing cert", &config.TLS{CertFile: missing, KeyFile: keyFile}, []string{"cert_file", missing, "no such file"}},
		{"missing key", &config.TLS{CertFile: certFile, KeyFile: missing}, []string{"key_file", missing}},
		{"garbage cert", &config.TLS{CertFile: garbage, KeyFile: keyFile}, []string{garbage, keyFile}},
		{"garbage key", &config.TLS{CertFile: certFile, KeyFile: garbage}, []string{certFile, garbage}},
		{"key of another cert", &config.TLS{CertFile: otherCert, KeyFile: keyFile}, []string{otherCert, keyFile, "does not match"}},
		{"acme without domains", &config.TLS{ACME: &config.ACME{Storage: t.TempDir()}}, []string{"domains is empty"}},
		{"acme empty domain", &config.TLS{ACME: &config.ACME{Domains: []string{" "}, Storage: t.TempDir()}}, []string{"empty name"}},
		{"acme wildcard", &config.TLS{ACME: &config.ACME{Domains: []string{"*.example.com"}, Storage: t.TempDir()}}, []string{"wildcard", "*.example.com", "DNS-01"}},
		{"acme missing ca_root", &config.TLS{ACME: &config.ACME{Domains: []string{"x.test"}, CARoot: missing, Storage: t.TempDir()}}, []string{"ca_root", missing}},
		{"acme garbage ca_root", &config.TLS{ACME: &config.ACME{Domains: []string{"x.test"}, CARoot: garbage, Storage: t.TempDir()}}, []string{"ca_root", garbage, "no PEM"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(context.Background(), tc.cfg, nil)
			if err == nil {
				m.Close()
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "certs: ") {
				t.Errorf("error %q lacks the certs: prefix", err)
			}
		})
	}
}

// With no known HTTPS port, certmagic must not be allowed to bind :443 for
// TLS-ALPN-01; with one, TLS-ALPN-01 stays on and targets it.
func TestTLSALPNPortFromListenOrOption(t *testing.T) {
	for _, tc := range []struct {
		listen   string
		opts     []Option
		disabled bool
		port     int
	}{
		{":8443", nil, false, 8443},
		{"127.0.0.1:0", nil, true, 0},
		{"127.0.0.1:0", []Option{WithTLSALPNChallengePort(9443)}, false, 9443},
	} {
		cfg := &config.TLS{Listen: tc.listen, ACME: &config.ACME{
			Domains: []string{"x.test"}, CA: "https://127.0.0.1:1/dir", Storage: t.TempDir(),
		}}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no background work needed
		m, err := New(ctx, cfg, nil, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		if got := m.acme.issuer.DisableTLSALPNChallenge; got != tc.disabled {
			t.Errorf("listen %s: TLS-ALPN disabled = %v, want %v", tc.listen, got, tc.disabled)
		}
		if got := m.acme.issuer.AltTLSALPNPort; got != tc.port {
			t.Errorf("listen %s: TLS-ALPN port %d, want %d", tc.listen, got, tc.port)
		}
	}
}
