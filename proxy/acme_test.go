package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/internal/freeport"
	"github.com/bridgeway/bridgeway/internal/pebbletest"
)

// acmeDomain resolves to 127.0.0.1 for Pebble through pebbletest's DNS.
const acmeDomain = "gw.bridgeway.test"

// TestACMEEndToEnd runs a real Pebble: the gateway obtains a certificate
// over HTTP-01 on its plain listener (which otherwise redirects to HTTPS),
// /readyz turns 200 once it has it, and a client trusting only Pebble's
// root completes an HTTP/2 request through the gateway.
func TestACMEEndToEnd(t *testing.T) {
	up := startUpstream(t, "app")
	// The gateway binds the plain port Pebble was given: another process
	// can take it in between, and then both start again on a new port.
	var (
		p         *pebbletest.Pebble
		s         *testServer
		plainPort int
	)
	err := freeport.Retry(freeport.Pick, 1, func(ports []int) error {
		plainPort = ports[0]
		p = pebbletest.Run(t, pebbletest.Options{HTTPPort: plainPort})
		var err error
		s, err = tryStartServer(t, `
listen: "127.0.0.1:`+strconv.Itoa(plainPort)+`"
admin:
  listen: "127.0.0.1:0"
shutdown_timeout: 5s
tls:
  listen: "127.0.0.1:0"
  acme:
    domains: [`+acmeDomain+`]
    email: ops@bridgeway.test
    ca: "`+p.DirectoryURL+`"
    ca_root: "`+p.CARootFile+`"
    storage: "`+t.TempDir()+`"
routes:
`+route("/app", up.URL), Deps{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
		return freeport.Mark(err)
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}

	c := newClient(t)
	deadline := time.Now().Add(30 * time.Second) // guard against hangs only
	for {
		resp, _ := get(t, c, "http://"+s.AdminAddr()+"/readyz")
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never turned 200 (certificate not obtained)")
		}
		time.Sleep(100 * time.Millisecond)
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.IssuerRoot(t)) {
		t.Fatal("bad Pebble issuer root")
	}
	tlsAddr := s.TLSAddr()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: acmeDomain},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, tlsAddr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: testTimeout}
	resp, err := client.Get("https://" + acmeDomain + "/app/acme")
	if err != nil {
		t.Fatalf("HTTPS through the gateway: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got echoReply
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || json.Unmarshal(body, &got) != nil || got.Path != "/app/acme" {
		t.Fatalf("got %d %s %s", resp.StatusCode, resp.Proto, body)
	}
	// Plain requests other than challenges are still redirected.
	resp, _ = get(t, c, "http://127.0.0.1:"+strconv.Itoa(plainPort)+"/app")
	if resp.StatusCode != http.StatusPermanentRedirect {
		t.Fatalf("plain request: %d, want 308", resp.StatusCode)
	}
}
