package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/freeport"
	"github.com/bridgeway/bridgeway/internal/pebbletest"
)

// testDomain resolves to 127.0.0.1 for Pebble's VA through pebbletest's DNS
// server; the test clients dial the listener directly.
const testDomain = "gw.bridgeway.test"

// readyWait bounds the wait for a certificate from Pebble (no timing
// assertion: only a guard against hanging).
const readyWait = 45 * time.Second

func waitReady(t *testing.T, m *Manager) {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for !m.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("no certificate within %v; last error: %v", readyWait, m.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func acmeConfig(p *pebbletest.Pebble, httpsAddr, storage string) *config.TLS {
	return &config.TLS{
		Listen: httpsAddr,
		ACME: &config.ACME{
			Domains: []string{testDomain},
			Email:   "ops@bridgeway.test",
			CA:      p.DirectoryURL,
			CARoot:  p.CARootFile,
			Storage: storage,
		},
	}
}

// checkServedByPebble does an HTTPS request to addr for testDomain with a
// client that trusts only Pebble's issuer root, and checks the leaf.
func checkServedByPebble(t *testing.T, p *pebbletest.Pebble, addr string) {
	t.Helper()
	issuerRoot := p.IssuerRoot(t)
	resp, body := get(t, httpsClient(t, issuerRoot, addr, true), "https://"+testDomain+"/")
	if resp.StatusCode != http.StatusOK || body != "hello over HTTP/2.0" {
		t.Fatalf("got %d %q, want 200 over HTTP/2.0", resp.StatusCode, body)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Fatalf("leaf issuer %q is not Pebble", leaf.Issuer.CommonName)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != testDomain {
		t.Fatalf("leaf names %v, want [%s]", leaf.DNSNames, testDomain)
	}
	// The chain the client built ends at the root fetched from Pebble.
	block, _ := pem.Decode(issuerRoot)
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	chains := resp.TLS.VerifiedChains
	if len(chains) == 0 || !chains[0][len(chains[0])-1].Equal(root) {
		t.Fatal("verified chain does not end at Pebble's issuer root")
	}
}

// captureStdout sends os.Stdout to a file for the rest of the test; the
// returned func restores it and returns what was written.
func captureStdout(t *testing.T) func() string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = f
	restored := false
	restore := func() string {
		if !restored {
			os.Stdout = old
			restored = true
		}
		data, _ := os.ReadFile(f.Name())
		return string(data)
	}
	t.Cleanup(func() {
		restore()
		_ = f.Close()
	})
	return restore
}

// challengeCounter counts HTTP-01 challenge requests answered with 200.
type challengeCounter struct {
	next http.Handler
	ok   atomic.Int64
}

func (c *challengeCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	c.next.ServeHTTP(rec, r)
	if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") && rec.status == http.StatusOK {
		c.ok.Add(1)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// TestACMEHTTP01 obtains a certificate from a real Pebble that validates
// HTTP-01 on the plain listener (TLS-ALPN-01 cannot succeed: Pebble's
// tlsPort is closed), serves it, and loads it from storage after a restart.
// Like the gateway, it calls New before binding its listeners: certmagic
// must not take their ports in between.
func TestACMEHTTP01(t *testing.T) {
	stdout := captureStdout(t)
	var (
		p                *pebbletest.Pebble
		cfg              *config.TLS
		m                *Manager
		plainPort        int
		plainLn, httpsLn net.Listener
	)
	// The ports are picked, then bound after New: another process can take
	// one in between, and then the setup starts again on new ports.
	err := freeport.Retry(freeport.Pick, 2, func(ports []int) error {
		plainPort = ports[0]
		p = pebbletest.Run(t, pebbletest.Options{HTTPPort: plainPort})
		cfg = acmeConfig(p, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])), t.TempDir())
		// No email: certmagic would prompt for one on the terminal (stdout and
		// stdin) when obtaining through ManageSync; the gateway must not.
		cfg.ACME.Email = ""
		var err error
		m, err = New(context.Background(), cfg, zaptest.NewLogger(t), WithHTTPChallengePort(plainPort))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		// Give the background work time to reach the CA before we bind: with
		// no wait for the listeners, certmagic would bind a port first.
		time.Sleep(300 * time.Millisecond)
		if plainLn, httpsLn, err = listenPair(t, ports); err != nil {
			m.Close()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := strings.Join(m.TLSConfig().NextProtos, ","); got != "h2,http/1.1,acme-tls/1" {
		t.Fatalf("NextProtos = %s", got)
	}

	// Forward the HTTPS listener to whichever Manager is current, so the
	// restart below keeps the same port.
	var current atomic.Pointer[Manager]
	current.Store(m)
	httpsCfg := &tls.Config{
		NextProtos: m.TLSConfig().NextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return current.Load().TLSConfig(), nil
		},
	}
	counter := &challengeCounter{next: m.HTTPHandler(protoHandler)}
	serveHTTP(t, plainLn, counter)
	serveHTTPS(t, httpsLn, httpsCfg, protoHandler)

	waitReady(t, m)
	if m.Err() != nil {
		t.Fatalf("Err after Ready: %v", m.Err())
	}
	checkServedByPebble(t, p, httpsLn.Addr().String())
	if out := stdout(); strings.Contains(out, "Email address") {
		t.Fatalf("certmagic prompted on stdout:\n%s", out)
	}
	challenges := counter.ok.Load()
	if challenges == 0 {
		t.Fatal("Pebble never fetched an HTTP-01 answer from HTTPHandler")
	}

	// A client that sends no SNI gets the first domain's certificate.
	conn, err := tls.Dial("tcp", httpsLn.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake without SNI: %v", err)
	}
	names := conn.ConnectionState().PeerCertificates[0].DNSNames
	_ = conn.Close()
	if len(names) != 1 || names[0] != testDomain {
		t.Fatalf("without SNI got a certificate for %v", names)
	}

	// Other plain requests still reach next.
	resp, body := get(t, plainClient(t), "http://"+plainLn.Addr().String()+"/other")
	if resp.StatusCode != http.StatusOK || body != "hello over HTTP/1.1" {
		t.Fatalf("plain request: %d %q", resp.StatusCode, body)
	}

	// A restart with the same storage loads the certificate: no new challenge.
	m.Close()
	m2, err := New(context.Background(), cfg, zaptest.NewLogger(t), WithHTTPChallengePort(plainPort))
	if err != nil {
		t.Fatalf("New after restart: %v", err)
	}
	defer m2.Close()
	current.Store(m2)
	waitReady(t, m2)
	checkServedByPebble(t, p, httpsLn.Addr().String())
	if n := counter.ok.Load(); n != challenges {
		t.Fatalf("restart answered %d new challenges; want the stored certificate", n-challenges)
	}
}

// TestACMETLSALPN01 obtains a certificate validated over TLS-ALPN-01 on the
// HTTPS listener served with m.TLSConfig(). HTTP-01 cannot succeed: the
// plain listener Pebble checks answers 404 to everything (and, being busy,
// keeps certmagic from serving challenges on a listener of its own).
func TestACMETLSALPN01(t *testing.T) {
	httpsLn, plainLn := listen(t), listen(t)
	plainPort := plainLn.Addr().(*net.TCPAddr).Port
	serveHTTP(t, plainLn, http.NotFoundHandler())
	p := pebbletest.Run(t, pebbletest.Options{
		HTTPPort: plainPort,
		TLSPort:  httpsLn.Addr().(*net.TCPAddr).Port,
	})

	// tls.listen ":0" says no port: the option gives the real one.
	m, err := New(context.Background(), acmeConfig(p, "127.0.0.1:0", t.TempDir()), zaptest.NewLogger(t),
		WithHTTPChallengePort(plainPort), WithTLSALPNChallengePort(httpsLn.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer m.Close()
	var alpnHellos atomic.Int64
	tlsCfg := m.TLSConfig()
	tlsCfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if slices.Contains(hello.SupportedProtos, "acme-tls/1") {
			alpnHellos.Add(1)
		}
		return nil, nil // keep tlsCfg
	}
	serveHTTPS(t, httpsLn, tlsCfg, protoHandler)

	waitReady(t, m)
	checkServedByPebble(t, p, httpsLn.Addr().String())
	if alpnHellos.Load() == 0 {
		t.Fatal("Pebble never made a TLS-ALPN-01 handshake")
	}
}

// TestACMECloseWhileCANeverAnswers: Close returns promptly and leaves no
// goroutine behind (goleak in TestMain) while certificates are still pending.
func TestACMECloseWhileCANeverAnswers(t *testing.T) {
	blackhole := listen(t) // accepts TCP but never speaks TLS
	defer func() { _ = blackhole.Close() }()
	cfg := &config.TLS{
		Listen: "127.0.0.1:0",
		ACME: &config.ACME{
			Domains: []string{testDomain},
			CA:      "https://" + blackhole.Addr().String() + "/dir",
			Storage: t.TempDir(),
		},
	}
	m, err := New(context.Background(), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the background work reach the CA
	if m.Ready() {
		t.Fatal("ready without a certificate")
	}
	m.Close()
}
