package certs

import (
	"crypto/tls"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
)

// loadKeyPair reads a static PEM certificate chain and its private key. Each
// error names the file at fault so an operator can fix the config.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	if certFile == "" {
		return tls.Certificate{}, errorf("tls.cert_file is empty but tls.key_file %q is set", keyFile)
	}
	if keyFile == "" {
		return tls.Certificate{}, errorf("tls.key_file is empty but tls.cert_file %q is set", certFile)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, errorf("%w", &config.KeyError{Key: "tls.cert_file", Err: err})
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, errorf("%w", &config.KeyError{Key: "tls.key_file", Err: err})
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, errorf("%w", &config.KeyError{Key: "tls.cert_file",
			Err: fmt.Errorf("%s with tls.key_file %s: %w", certFile, keyFile, err)})
	}
	return cert, nil
}

// logStaticCert says which names the certificate covers and warns when it
// is not valid now: a static certificate is never renewed by the gateway.
func logStaticCert(logger *zap.Logger, certFile string, cert tls.Certificate) {
	leaf := cert.Leaf
	if leaf == nil {
		return
	}
	fields := []zap.Field{
		zap.String("file", certFile),
		zap.Strings("names", leaf.DNSNames),
		zap.Time("not_after", leaf.NotAfter),
	}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		logger.Warn("static certificate has expired", fields...)
	case now.Before(leaf.NotBefore):
		logger.Warn("static certificate is not valid yet", fields...)
	default:
		logger.Info("static certificate loaded", fields...)
	}
}

// leafNames are the DNS names and IP addresses of a static certificate.
func leafNames(cert tls.Certificate) []string {
	if cert.Leaf == nil {
		return nil
	}
	names := append([]string(nil), cert.Leaf.DNSNames...)
	for _, ip := range cert.Leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}
