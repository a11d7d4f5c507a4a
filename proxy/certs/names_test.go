package certs

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/config"
)

// TestNamesOfStaticCertificate: the names a static certificate is for (its
// DNS names, then its IP addresses) are the gateway's default hosts.
func TestNamesOfStaticCertificate(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t, t.TempDir(), "gw.bridgeway.test", "127.0.0.1", "*.apps.bridgeway.test")
	m, err := New(context.Background(), &config.TLS{CertFile: certFile, KeyFile: keyFile}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer m.Close()
	if got := strings.Join(m.Names(), " "); got != "gw.bridgeway.test *.apps.bridgeway.test 127.0.0.1" {
		t.Fatalf("Names() = %q", got)
	}
}
