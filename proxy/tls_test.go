package proxy

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// selfSignedPair writes a fresh certificate for 127.0.0.1/localhost and
// returns the file paths and a pool that trusts it.
func selfSignedPair(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bridgeway test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func tlsYAML(certFile, keyFile, extra string) string {
	return baseYAML + `
tls:
  listen: "127.0.0.1:0"
  cert_file: "` + certFile + `"
  key_file: "` + keyFile + `"
` + extra
}

func TestStaticTLSWithHTTP2AndRedirect(t *testing.T) {
	up := startUpstream(t, "app")
	certFile, keyFile, pool := selfSignedPair(t)
	s := startServer(t, tlsYAML(certFile, keyFile, "routes:\n"+route("/app", up.URL)), Deps{})

	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Transport: tr, Timeout: testTimeout}
		resp, err := client.Get("https://" + s.TLSAddr() + "/app/secure")
		if err != nil {
			t.Fatalf("h2=%v: %v", h2, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		wantMajor := 1
		if h2 {
			wantMajor = 2
		}
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != wantMajor {
			t.Fatalf("h2=%v: status %d proto %s", h2, resp.StatusCode, resp.Proto)
		}
		var got echoReply
		if json.Unmarshal(body, &got) != nil || got.Path != "/app/secure" {
			t.Fatalf("h2=%v: body %s", h2, body)
		}
	}

	// WebSocket tunnels work over TLS too (HTTP/1.1 upgrade).
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: testTimeout}
	ws, _, err := d.Dial("wss://"+s.TLSAddr()+"/app/ws", nil)
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	assertEcho(t, ws, "over tls")
	_ = ws.Close()

	// The plain listener redirects to HTTPS with the TLS port and keeps the URI.
	resp, _ := get(t, newClient(t), "http://"+s.Addr()+"/app/x?y=1")
	_, tlsPort, _ := net.SplitHostPort(s.TLSAddr())
	want := "https://127.0.0.1:" + tlsPort + "/app/x?y=1"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	// A Host the certificate does not name goes to its first name: a
	// forged Host never picks where clients are sent.
	for host, wantHost := range map[string]string{
		"localhost":        "localhost",
		"LOCALHOST:8080":   "LOCALHOST",
		"127.0.0.1":        "127.0.0.1",
		"example.com":      "localhost",
		"example.com:8080": "localhost",
		"[::1]:8080":       "localhost",
	} {
		req, _ := http.NewRequest("GET", "http://"+s.Addr()+"/p", nil)
		req.Host = host
		resp, err := newClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "https://"+wantHost+":"+tlsPort+"/p" {
			t.Errorf("Host %s redirected to %q", host, loc)
		}
	}
	if up.requests.Load() != 3 {
		t.Errorf("upstream saw %d requests, want 3 (the redirect must not proxy)", up.requests.Load())
	}
	if resp, body := get(t, newClient(t), "http://"+s.AdminAddr()+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("readyz with static certs: %d %s", resp.StatusCode, body)
	}
}

func TestTLSWithoutRedirectServesPlainToo(t *testing.T) {
	up := startUpstream(t, "app")
	certFile, keyFile, _ := selfSignedPair(t)
	s := startServer(t, tlsYAML(certFile, keyFile, "  redirect_http: false\nroutes:\n"+route("/app", up.URL)), Deps{})
	resp, _ := get(t, newClient(t), "http://"+s.Addr()+"/app")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("plain listener with redirect_http false: %d", resp.StatusCode)
	}
}

func TestTLSConnectionLimitAnswersOverTLS(t *testing.T) {
	up := startUpstream(t, "app")
	certFile, keyFile, pool := selfSignedPair(t)
	s := startServer(t, tlsYAML(certFile, keyFile, "limits:\n  max_connections: 1\nroutes:\n"+route("/app", up.URL)), Deps{})

	held, err := tls.Dial("tcp", s.TLSAddr(), &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_ = held.SetDeadline(time.Now().Add(testTimeout))
	if resp, _ := roundTrip(t, held, bufio.NewReader(held), getApp); resp.StatusCode != http.StatusOK {
		t.Fatalf("held connection: %d", resp.StatusCode)
	}

	refused, err := tls.Dial("tcp", s.TLSAddr(), &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatalf("refused connection should still complete a handshake: %v", err)
	}
	defer refused.Close()
	_ = refused.SetDeadline(time.Now().Add(testTimeout))
	if p := refused.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("refused connection negotiated %q, want http/1.1", p)
	}
	_, _ = io.WriteString(refused, getApp)
	resp, err := http.ReadResponse(bufio.NewReader(refused), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "too_many_connections") {
		t.Fatalf("refused: %d %s", resp.StatusCode, body)
	}
}
