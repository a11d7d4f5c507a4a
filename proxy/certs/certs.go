// Package certs provides the gateway's TLS certificates: obtained and renewed
// through ACME with certmagic, or loaded from static PEM files.
//
// The server builds a Manager with New, serves m.TLSConfig() on the HTTPS
// listener, wraps the plain listener's handler with m.HTTPHandler (ACME
// HTTP-01 answers), reports m.Ready() on /readyz and calls m.Close() on exit.
package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
)

// Manager owns the certificates of one TLS config.
type Manager struct {
	tlsConfig *tls.Config
	logger    *zap.Logger
	// names the certificates are for: ACME domains, or the static
	// certificate's DNS names and IP addresses.
	names []string

	// ACME only (nil for static files).
	acme *acmeState

	ready     atomic.Bool
	lastErr   atomic.Pointer[error]
	closeOnce sync.Once
}

// Option adjusts New.
type Option func(*options)

type options struct {
	httpChallengePort    int
	tlsALPNChallengePort int
}

// WithHTTPChallengePort tells the ACME issuer the port of the gateway's plain
// HTTP listener (the one wrapped with HTTPHandler). certmagic then never
// opens its own HTTP-01 listener on port 80: it finds this port busy and
// relies on HTTPHandler. The CA still validates on port 80 of the domain,
// so in production port 80 must reach this listener. Without it, certmagic
// tries to bind :80 itself while a challenge is pending if :80 is free.
func WithHTTPChallengePort(port int) Option {
	return func(o *options) { o.httpChallengePort = port }
}

// WithTLSALPNChallengePort tells the ACME issuer the port of the gateway's
// HTTPS listener, for when cfg.Listen does not say it (":0"). Without a
// known port the TLS-ALPN-01 challenge is disabled rather than letting
// certmagic bind :443 itself; HTTP-01 still works.
func WithTLSALPNChallengePort(port int) Option {
	return func(o *options) { o.tlsALPNChallengePort = port }
}

// New prepares certificates for cfg (must be non-nil).
//
// With cfg.ACME it builds its own certmagic Cache and Config (logger named
// "certs", storage folder cfg.ACME.Storage, CA cfg.ACME.CA, trusting the PEM
// file cfg.ACME.CARoot for the CA's own TLS when set, email cfg.ACME.Email,
// the CA's terms accepted) and returns at once: certificates are loaded from
// storage or obtained in the background by a goroutine owned by the Manager
// (certmagic's ManageSync, retried with backoff until it succeeds or Close).
// Ready reports when every domain has a certificate; until then handshakes
// fail. Renewal is certmagic's cache maintenance, stopped by Close. ctx ends
// the background work too.
//
// With CertFile/KeyFile it loads the pair now; errors name the file.
func New(ctx context.Context, cfg *config.TLS, logger *zap.Logger, opts ...Option) (*Manager, error) {
	if cfg == nil {
		return nil, errors.New("certs: no tls config")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m := &Manager{logger: logger.Named("certs")}

	hasFiles := cfg.CertFile != "" || cfg.KeyFile != ""
	switch {
	case cfg.ACME != nil && hasFiles:
		return nil, errors.New("certs: tls.acme and tls.cert_file/key_file are exclusive")
	case cfg.ACME != nil:
		st, err := newACME(ctx, cfg, m.logger, o)
		if err != nil {
			return nil, err
		}
		m.acme = st
		m.names = append([]string(nil), cfg.ACME.Domains...)
		m.tlsConfig = baseTLSConfig()
		m.tlsConfig.GetCertificate = st.magic.GetCertificate
		// acme-tls/1 lets the CA validate TLS-ALPN-01 on the HTTPS listener;
		// certmagic's GetCertificate answers those handshakes.
		m.tlsConfig.NextProtos = append(m.tlsConfig.NextProtos, ACMETLS1Protocol)
		st.start(m)
	case hasFiles:
		cert, err := loadKeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, err
		}
		logStaticCert(m.logger, cfg.CertFile, cert)
		m.names = leafNames(cert)
		m.tlsConfig = baseTLSConfig()
		m.tlsConfig.Certificates = []tls.Certificate{cert}
		m.ready.Store(true)
	default:
		return nil, errors.New("certs: tls needs acme or cert_file and key_file")
	}
	return m, nil
}

// baseTLSConfig is what every HTTPS listener gets.
func baseTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12Suites,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// Names are the host names (and IP addresses) the certificates are for.
func (m *Manager) Names() []string { return append([]string(nil), m.names...) }

// tls12Suites are the TLS 1.2 suites offered: forward-secret AEAD only.
// Go's defaults also accept ECDHE with AES-CBC and HMAC-SHA1 (Lucky13-style
// padding oracles, SHA-1); every browser of the last decade has these.
// TLS 1.3 suites are not configurable and all fine.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns a new copy of the listener's TLS config: NextProtos
// h2 and http/1.1, plus acme-tls/1 with ACME.
func (m *Manager) TLSConfig() *tls.Config {
	return m.tlsConfig.Clone()
}

// HTTPHandler answers ACME HTTP-01 challenges (paths under
// /.well-known/acme-challenge/ that match a pending challenge) and passes
// every other request to next. Without ACME it returns next unchanged.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	if m.acme == nil {
		return next
	}
	return m.acme.issuer.HTTPChallengeHandler(next)
}

// Ready reports whether a certificate for every domain is loaded. With ACME
// that is once the first ManageSync succeeded, or, when it failed (say a
// renewal at start-up), as long as every domain has an unexpired
// certificate in memory.
func (m *Manager) Ready() bool {
	if m.ready.Load() {
		return true
	}
	return m.acme != nil && m.acme.allCached()
}

// Err returns the last error of the background ACME work (nil when none or
// once Ready), for logs and /readyz messages.
func (m *Manager) Err() error {
	if p := m.lastErr.Load(); p != nil && !m.Ready() {
		return *p
	}
	return nil
}

// Close stops the background ACME work and certmagic's maintenance
// goroutines; it waits for them. Handshakes still work afterwards with the
// certificates already loaded. Safe to call more than once.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		if m.acme != nil {
			m.acme.stop()
		}
	})
}

func (m *Manager) setErr(err error) {
	m.lastErr.Store(&err)
}

// errorf wraps with the package prefix.
func errorf(format string, args ...any) error {
	return fmt.Errorf("certs: "+format, args...)
}

// ACMETLS1Protocol is the ALPN name of TLS-ALPN-01 challenges (RFC 8737).
const ACMETLS1Protocol = "acme-tls/1"
