package certs

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
)

// Backoff between failed ACME attempts. Public CAs limit failed validations
// (Let's Encrypt: 5 per hostname per hour), so retries are slow.
const (
	retryMin = 30 * time.Second
	retryMax = 30 * time.Minute
)

// portWait bounds how long the first certificate request waits for the
// gateway's own listeners to come up (see waitForListeners).
const portWait = 15 * time.Second

// acmeState is the certmagic side of a Manager.
type acmeState struct {
	cache   *certmagic.Cache
	magic   *certmagic.Config
	issuer  *certmagic.ACMEIssuer
	storage *certmagic.FileStorage
	domains []string
	logger  *zap.Logger
	// ports of the gateway's listeners that answer challenges (0: unknown).
	httpPort, tlsPort int

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newACME(ctx context.Context, cfg *config.TLS, logger *zap.Logger, o options) (*acmeState, error) {
	ac := cfg.ACME
	domains := make([]string, 0, len(ac.Domains))
	for _, d := range ac.Domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" {
			return nil, errorf("tls.acme.domains holds an empty name")
		}
		if strings.Contains(d, "*") {
			// Wildcards need the DNS-01 challenge, which needs a DNS
			// provider API: not supported.
			return nil, errorf("tls.acme.domains: wildcard %q needs DNS-01 validation, which is not supported", d)
		}
		domains = append(domains, d)
	}
	if len(domains) == 0 {
		return nil, errorf("tls.acme.domains is empty")
	}

	var roots *x509.CertPool
	if ac.CARoot != "" {
		pem, err := os.ReadFile(ac.CARoot)
		if err != nil {
			return nil, errorf("%w", &config.KeyError{Key: "tls.acme.ca_root", Err: err})
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, errorf("tls.acme.ca_root %q holds no PEM certificate", ac.CARoot)
		}
	}
	storagePath := ac.Storage
	if storagePath == "" {
		storagePath = config.DefaultACMEStorage
	}
	if err := os.MkdirAll(storagePath, 0o700); err != nil {
		return nil, errorf("tls.acme.storage: %w", err)
	}
	ca := ac.CA
	if ca == "" {
		ca = config.DefaultACMECA
	}

	st := &acmeState{
		storage:  &certmagic.FileStorage{Path: storagePath},
		domains:  domains,
		logger:   logger,
		httpPort: o.httpChallengePort,
		tlsPort:  o.tlsALPNChallengePort,
		done:     make(chan struct{}),
	}
	if st.tlsPort == 0 {
		st.tlsPort = portOf(cfg.Listen)
	}
	// The cache needs the config and the config needs the cache: the
	// callback closes over st, filled in just below.
	st.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return st.magic, nil },
		Logger:           logger.Named("cache"),
	})
	st.magic = certmagic.New(st.cache, certmagic.Config{
		Storage: st.storage,
		// Clients that send no SNI (old ones, access by IP address) get
		// the first domain's certificate rather than a failed handshake.
		DefaultServerName: domains[0],
		Logger:            logger.Named("magic"),
	})
	st.issuer = certmagic.NewACMEIssuer(st.magic, certmagic.ACMEIssuer{
		CA:           ca,
		Email:        ac.Email,
		Agreed:       true,
		TrustedRoots: roots,
		// certmagic only opens its own challenge listener when these
		// ports are free; pointed at the gateway's listeners it finds
		// them busy and lets HTTPHandler / TLSConfig answer.
		AltHTTPPort:    st.httpPort,
		AltTLSALPNPort: st.tlsPort,
		// With no known HTTPS port certmagic would bind :443 for
		// TLS-ALPN-01, which can collide with anything; HTTP-01 remains.
		DisableTLSALPNChallenge: st.tlsPort == 0,
		Logger:                  logger.Named("acme"),
	})
	st.magic.Issuers = []certmagic.Issuer{nonInteractiveIssuer{st.issuer}}
	if ctx == nil {
		ctx = context.Background()
	}
	st.ctx, st.cancel = context.WithCancel(ctx)
	return st, nil
}

// nonInteractiveIssuer keeps certmagic from ever prompting on the terminal.
// ManageSync obtains "interactively", and an interactive PreCheck with no
// email configured asks for one on stdin (and prints to stdout): a daemon
// must never do that. Every other method is the ACMEIssuer's. Cost: certmagic
// recognises its own *ACMEIssuer only by type, so renewals do not send the
// ARI "replaces" hint.
type nonInteractiveIssuer struct{ *certmagic.ACMEIssuer }

func (i nonInteractiveIssuer) PreCheck(ctx context.Context, names []string, _ bool) error {
	return i.ACMEIssuer.PreCheck(ctx, names, false)
}

// start runs the background work that loads or obtains the certificates.
func (st *acmeState) start(m *Manager) {
	go func() {
		defer close(st.done)
		st.run(m)
	}()
}

// stop ends the background work and certmagic's maintenance and waits.
func (st *acmeState) stop() {
	st.cancel()
	<-st.done
	st.cache.Stop()
}

// run loads the certificates from storage or obtains them, retrying with
// backoff until it succeeds or the context ends. Once it succeeded,
// renewals are certmagic's cache maintenance.
func (st *acmeState) run(m *Manager) {
	if !st.allStored() {
		st.waitForListeners()
	}
	delay := retryMin
	for {
		err := st.magic.ManageSync(st.ctx, st.domains)
		if err == nil {
			m.ready.Store(true)
			st.logger.Info("certificates ready", zap.Strings("domains", st.domains))
			return
		}
		if st.ctx.Err() != nil {
			return
		}
		m.setErr(errorf("obtain certificates: %w", err))
		st.logger.Error("obtaining certificates failed; will retry",
			zap.Strings("domains", st.domains), zap.Duration("retry_in", delay), zap.Error(err))
		select {
		case <-st.ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, retryMax)
	}
}

// allCached reports whether every domain has an unexpired certificate in
// memory, even if the last attempt to renew it failed.
func (st *acmeState) allCached() bool {
	for _, d := range st.domains {
		usable := false
		for _, c := range st.cache.AllMatchingCertificates(d) {
			if !c.Expired() {
				usable = true
				break
			}
		}
		if !usable {
			return false
		}
	}
	return true
}

// allStored reports whether every domain already has a certificate in
// storage (a restart): then nothing needs the challenge listeners.
func (st *acmeState) allStored() bool {
	for _, d := range st.domains {
		key := certmagic.StorageKeys.SiteCert(st.issuer.IssuerKey(), d)
		if !st.storage.Exists(st.ctx, key) {
			return false
		}
	}
	return true
}

// waitForListeners gives the gateway a moment to bind its listeners before
// the first challenge: if certmagic found a challenge port free it would
// bind it itself, and the gateway's own listen on that port would then fail.
// It waits until the known ports accept connections on loopback, at most
// portWait; a listener that is not reachable on loopback only costs the wait.
func (st *acmeState) waitForListeners() {
	var ports []int
	for _, p := range []int{st.httpPort, st.tlsPort} {
		if p > 0 {
			ports = append(ports, p)
		}
	}
	if len(ports) == 0 {
		return
	}
	deadline := time.NewTimer(portWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if allListening(st.ctx, ports) {
			return
		}
		select {
		case <-st.ctx.Done():
			return
		case <-deadline.C:
			st.logger.Warn("challenge ports not reachable on loopback; requesting certificates anyway",
				zap.Ints("ports", ports))
			return
		case <-tick.C:
		}
	}
}

func allListening(ctx context.Context, ports []int) bool {
	var d net.Dialer
	for _, p := range ports {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		cancel()
		if err != nil {
			return false
		}
		_ = conn.Close()
	}
	return true
}

// portOf returns the port of a listen address like ":8443", or 0.
func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return 0
	}
	return n
}
