package pebbletest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/freeport"
)

func TestMain(m *testing.M) {
	VerifyTestMain(m)
}

func TestRunServesDirectoryAndIssuerRoot(t *testing.T) {
	p := Run(t, Options{HTTPPort: 1})
	checkDirectory(t, p)

	block, _ := pem.Decode(p.IssuerRoot(t))
	if block == nil {
		t.Fatal("issuer root is not PEM")
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !root.IsCA || !strings.Contains(root.Subject.CommonName, "Pebble") {
		t.Fatalf("issuer root %q (CA %v) is not Pebble's", root.Subject.CommonName, root.IsCA)
	}
}

func TestStartReturnsDirectoryAndCARootFile(t *testing.T) {
	dirURL, caFile := Start(t, 1)
	if !strings.HasPrefix(dirURL, "https://127.0.0.1:") || !strings.HasSuffix(caFile, "pebble.minica.pem") {
		t.Fatalf("Start = %q, %q", dirURL, caFile)
	}
}

func TestLoopbackDNSAnswersEveryNameWith127001(t *testing.T) {
	addr := startLoopbackDNS(t)
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			r := &net.Resolver{
				PreferGo: true,
				Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, network, addr)
				},
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, name := range []string{"gw.bridgeway.test", "localhost", "a.b.c.example"} {
				ips, err := r.LookupIP(ctx, "ip4", name)
				if err != nil || len(ips) != 1 || !ips[0].Equal(net.IPv4(127, 0, 0, 1)) {
					t.Errorf("%s: %v, %v; want [127.0.0.1]", name, ips, err)
				}
				ips6, err := r.LookupIP(ctx, "ip6", name)
				if len(ips6) != 0 {
					t.Errorf("%s: AAAA %v (err %v); want none", name, ips6, err)
				}
			}
		})
	}
}

func TestLoopbackAnswerRejectsMalformedQueries(t *testing.T) {
	for name, q := range map[string][]byte{
		"short":           {1, 2, 3},
		"no question":     {0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"truncated name":  {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'a', 'b'},
		"compressed name": {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1},
		"no type":         {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0},
	} {
		if _, err := loopbackAnswer(q); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// A port taken between the pick and Pebble's bind does not fail the start:
// Pebble exits saying so and Run tries new ports, whose directory answers.
func TestRunSurvivesATakenPort(t *testing.T) {
	pick, busy := freeport.Busy(t, nil)
	pickPorts = pick
	defer func() { pickPorts = freeport.Pick }()
	p := Run(t, Options{HTTPPort: 1})
	if strings.Contains(p.DirectoryURL, ":"+strconv.Itoa(busy)+"/") {
		t.Fatalf("directory %s is on the taken port %d", p.DirectoryURL, busy)
	}
	checkDirectory(t, p)
}

// checkDirectory fetches p's directory over TLS, trusting only CARootFile,
// and checks it is an ACME directory.
func checkDirectory(t *testing.T, p *Pebble) {
	t.Helper()
	caPEM, err := os.ReadFile(p.CARootFile)
	if err != nil {
		t.Fatal(err)
	}
	client := trustingClient(t, caPEM)
	defer client.CloseIdleConnections()
	resp, err := client.Get(p.DirectoryURL)
	if err != nil {
		t.Fatalf("directory over TLS trusting CARootFile: %v", err)
	}
	var dir map[string]any
	err = json.NewDecoder(resp.Body).Decode(&dir)
	_ = resp.Body.Close()
	if err != nil || dir["newOrder"] == nil || dir["newAccount"] == nil {
		t.Fatalf("directory %v (err %v) lacks newOrder/newAccount", dir, err)
	}
}
