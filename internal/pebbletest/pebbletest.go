// Package pebbletest runs a real Pebble ACME test CA for integration tests.
//
// Pebble is built from the module pinned in go.mod (see tools.go) with
// `go build`, once per test binary, so a fresh machine needs nothing but the
// Go toolchain and the module proxy. Pebble's validation authority resolves
// every domain name to 127.0.0.1 through a small DNS server run here, and
// really connects to the given challenge ports: HTTP-01 and TLS-ALPN-01 are
// validated for real (PEBBLE_VA_ALWAYS_VALID is off unless asked for).
package pebbletest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/freeport"
	"github.com/bridgeway/bridgeway/internal/testdeps"
)

const pebbleModule = "github.com/letsencrypt/pebble/v2"

// startTimeout bounds how long Pebble may take to hold its ports.
const startTimeout = 30 * time.Second

// Options for Run. Zero values are fine for everything but HTTPPort.
type Options struct {
	// HTTPPort is where Pebble's VA looks for HTTP-01 answers
	// (http://DOMAIN:HTTPPort/.well-known/acme-challenge/TOKEN).
	HTTPPort int
	// TLSPort is where the VA performs TLS-ALPN-01 handshakes. 0 holds a
	// port that refuses connections for the test, so only HTTP-01 can succeed.
	TLSPort int
	// AlwaysValid sets PEBBLE_VA_ALWAYS_VALID=1: no validation at all.
	AlwaysValid bool
}

// Pebble is a running Pebble instance, stopped by t.Cleanup.
type Pebble struct {
	// DirectoryURL is the ACME directory (tls.acme.ca).
	DirectoryURL string
	// CARootFile is a PEM file holding the root that signs Pebble's own
	// HTTPS certificate (tls.acme.ca_root). It is NOT the root of issued
	// certificates: see IssuerRoot.
	CARootFile string
	// ManagementURL is Pebble's management interface (/roots/0 etc.).
	ManagementURL string
}

// Start builds (once per test binary) and runs Pebble on free loopback ports
// and stops it with t.Cleanup. httpChallengePort is where Pebble's VA looks
// for HTTP-01 answers. caRootFile is the path of the PEM file to trust for
// Pebble's own TLS (tls.acme.ca_root); TLS-ALPN-01 validation cannot succeed.
func Start(t testing.TB, httpChallengePort int) (directoryURL, caRootFile string) {
	t.Helper()
	p := Run(t, Options{HTTPPort: httpChallengePort})
	return p.DirectoryURL, p.CARootFile
}

// IssuerRoot returns the PEM of the root that signs Pebble's issued
// certificates, fetched from the management interface (it is generated
// anew each time Pebble starts).
func (p *Pebble) IssuerRoot(t testing.TB) []byte {
	t.Helper()
	return IssuerRoot(t, p.ManagementURL)
}

// IssuerRoot fetches the PEM of the root that signs Pebble's issued
// certificates from managementURL + "/roots/0".
func IssuerRoot(t testing.TB, managementURL string) []byte {
	t.Helper()
	b := built(t)
	client := trustingClient(t, b.caRootPEM)
	defer client.CloseIdleConnections()
	resp, err := client.Get(managementURL + "/roots/0")
	if err != nil {
		t.Fatalf("pebbletest: fetch issuer root: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pebbletest: fetch issuer root: status %d, err %v", resp.StatusCode, err)
	}
	return body
}

// pickPorts picks Pebble's ACME and management ports; a test hands it a
// taken one.
var pickPorts = freeport.Pick

// Run starts Pebble with opts and stops it with t.Cleanup. Another process
// can take a port between the pick and Pebble's bind: a start that meets a
// taken port tries new ones.
func Run(t testing.TB, opts Options) *Pebble {
	t.Helper()
	b := built(t)
	dnsAddr := startLoopbackDNS(t)
	tlsPort := opts.TLSPort
	if tlsPort == 0 {
		// Held for the test and refusing: TLS-ALPN-01 cannot succeed.
		_, port, _ := net.SplitHostPort(freeport.Refusing(t))
		tlsPort, _ = strconv.Atoi(port)
	}
	var p *Pebble
	err := freeport.Retry(pickPorts, 2, func(ports []int) error {
		var err error
		p, err = start(t, b, dnsAddr, opts, ports[0], ports[1], tlsPort)
		return err
	})
	if err != nil {
		t.Fatalf("pebbletest: %v", err)
	}
	return p
}

// start runs one Pebble on acmePort and mgmtPort and waits until it holds
// both. Its error wraps freeport.ErrInUse when a port is someone else's.
func start(t testing.TB, b *build, dnsAddr string, opts Options, acmePort, mgmtPort, tlsPort int) (*Pebble, error) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "pebble-config.json")
	writePebbleConfig(t, cfgPath, b, acmePort, mgmtPort, opts.HTTPPort, tlsPort)

	logPath := filepath.Join(dir, "pebble.log")
	cmd := exec.Command(b.binary, "-config", cfgPath, "-dnsserver", dnsAddr)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PEBBLE_VA_NOSLEEP=1",      // no random 0-15 s sleep before validating
		"PEBBLE_WFE_NONCEREJECT=0", // no random badNonce errors: keeps tests deterministic
		"PEBBLE_AUTHZREUSE=0",      // every order validates for real
		"PEBBLE_VA_ALWAYS_VALID="+boolEnv(opts.AlwaysValid),
	)
	// Pebble's listeners serve HTTPS as soon as they are bound: holding
	// both ports is answering.
	_, err := freeport.StartHeld(t, freeport.Program{Cmd: cmd, Ports: []int{acmePort, mgmtPort}, Output: logPath, Timeout: startTimeout})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log (tail):\n%s", tail(logPath, 8<<10))
		}
	})
	return &Pebble{
		DirectoryURL:  fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort),
		CARootFile:    b.caRootFile,
		ManagementURL: fmt.Sprintf("https://127.0.0.1:%d", mgmtPort),
	}, nil
}

func boolEnv(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func writePebbleConfig(t testing.TB, path string, b *build, acmePort, mgmtPort, httpPort, tlsPort int) {
	t.Helper()
	cfg := map[string]any{
		"pebble": map[string]any{
			"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
			"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
			"certificate":                    filepath.Join(b.moduleDir, "test", "certs", "localhost", "cert.pem"),
			"privateKey":                     filepath.Join(b.moduleDir, "test", "certs", "localhost", "key.pem"),
			"httpPort":                       httpPort,
			"tlsPort":                        tlsPort,
			"ocspResponderURL":               "",
			"externalAccountBindingRequired": false,
			"retryAfter":                     map[string]int{"authz": 1, "order": 1},
			"keyAlgorithm":                   "ecdsa",
		},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatalf("pebbletest: %v", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("pebbletest: %v", err)
	}
}

// trustingClient is an HTTPS client that trusts only caRootPEM.
func trustingClient(t testing.TB, caRootPEM []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caRootPEM) {
		t.Fatalf("pebbletest: no certificate in pebble's CA root PEM")
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
}

// tail returns at most n bytes from the end of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(bytes.ToValidUTF8(data, []byte("?")))
}

// build is the result of building Pebble once per test binary.
type build struct {
	binary     string
	moduleDir  string // Pebble's module in the module cache (test certs live there)
	caRootFile string // test/certs/pebble.minica.pem
	caRootPEM  []byte
	err        error // a missing toolchain or module: reported with testdeps.Missing
}

var (
	buildOnce   sync.Once
	buildResult build
)

// built builds Pebble the first time it is called in this test binary.
func built(t testing.TB) *build {
	t.Helper()
	buildOnce.Do(func() { buildResult = buildPebble() })
	if buildResult.err != nil {
		testdeps.Missing(t, buildResult.err.Error())
	}
	return &buildResult
}

func buildPebble() build {
	goBin, err := goCommand()
	if err != nil {
		return build{err: err}
	}
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", pebbleModule).Output()
	moduleDir := strings.TrimSpace(string(out))
	if err != nil || moduleDir == "" {
		// Not yet downloaded: go build below downloads it, then ask again.
		moduleDir = ""
	}

	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	binDir := filepath.Join(cacheDir, "bridgeway-pebbletest")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return build{err: fmt.Errorf("pebble build dir: %w", err)}
	}
	// Build to a unique name, then rename: test binaries of several packages
	// may build at the same time, and a running Pebble keeps its old inode.
	tmp := filepath.Join(binDir, "pebble."+strconv.Itoa(os.Getpid()))
	cmd := exec.Command(goBin, "build", "-o", tmp, pebbleModule+"/cmd/pebble")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return build{err: fmt.Errorf("go build %s/cmd/pebble: %w\n%s", pebbleModule, err, out)}
	}
	binary := filepath.Join(binDir, "pebble")
	if err := os.Rename(tmp, binary); err != nil {
		return build{err: fmt.Errorf("install pebble binary: %w", err)}
	}

	if moduleDir == "" {
		out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", pebbleModule).Output()
		if err != nil {
			return build{err: fmt.Errorf("go list -m %s: %w", pebbleModule, err)}
		}
		moduleDir = strings.TrimSpace(string(out))
	}
	caRootFile := filepath.Join(moduleDir, "test", "certs", "pebble.minica.pem")
	caRootPEM, err := os.ReadFile(caRootFile)
	if err != nil {
		return build{err: fmt.Errorf("pebble test CA: %w", err)}
	}
	return build{binary: binary, moduleDir: moduleDir, caRootFile: caRootFile, caRootPEM: caRootPEM}
}

// goCommand finds the go tool of the toolchain running the tests.
func goCommand() (string, error) {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); isFile(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go toolchain not found on PATH (needed to build pebble): %w", err)
	}
	return p, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
