package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bridgeway/bridgeway/internal/forwarded"
	"github.com/bridgeway/bridgeway/internal/jsonerr"
)

// Reasons a connection is refused; also the reason label of the metric.
const (
	rejectTotal = "max_connections"
	rejectPerIP = "max_connections_per_ip"
)

// connLimiter counts the open client connections of the whole process (plain
// and TLS listeners together) and per client IP. A slot is taken at accept
// and given back when the connection closes, hijacked ones included, because
// the counting happens on the net.Conn itself.
type connLimiter struct {
	maxTotal atomic.Int64 // 0 = unlimited
	maxPerIP atomic.Int64 // 0 = unlimited
	// trust holds the trusted proxies: one proxy carries many clients, so
	// its connections are not held to maxPerIP.
	trust   atomic.Pointer[forwarded.Trust]
	metrics *metrics

	mu    sync.Mutex
	total int
	perIP map[string]int
	live  map[*limitedConn]struct{}
}

func newConnLimiter(m *metrics, maxTotal, maxPerIP int) *connLimiter {
	l := &connLimiter{metrics: m, perIP: map[string]int{}, live: map[*limitedConn]struct{}{}}
	l.setLimits(maxTotal, maxPerIP)
	return l
}

func (l *connLimiter) setTrust(t *forwarded.Trust) { l.trust.Store(t) }

func (l *connLimiter) setLimits(maxTotal, maxPerIP int) {
	l.maxTotal.Store(int64(maxTotal))
	l.maxPerIP.Store(int64(maxPerIP))
}

// admit takes a slot for c, or returns the reason it is refused.
func (l *connLimiter) admit(c *limitedConn) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if max := l.maxTotal.Load(); max > 0 && int64(l.total) >= max {
		return rejectTotal
	}
	if max := l.maxPerIP.Load(); max > 0 && int64(l.perIP[c.ip]) >= max && !l.trust.Load().ContainsAddr(c.ip) {
		return rejectPerIP
	}
	l.total++
	l.perIP[c.ip]++
	l.live[c] = struct{}{}
	l.metrics.openConns.Inc()
	return ""
}

func (l *connLimiter) release(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.live[c]; !ok {
		return
	}
	delete(l.live, c)
	l.total--
	if l.perIP[c.ip] <= 1 {
		delete(l.perIP, c.ip)
	} else {
		l.perIP[c.ip]--
	}
	l.metrics.openConns.Dec()
}

// closeAll force-closes every connection still open: the last step of a
// drain, reaching hijacked connections that http.Server no longer tracks.
func (l *connLimiter) closeAll() {
	l.mu.Lock()
	conns := make([]*limitedConn, 0, len(l.live))
	for c := range l.live {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// limitListener enforces the connection limits at accept time, below TLS, so
// a refused client costs no http.Server goroutine.
type limitListener struct {
	net.Listener
	limiter *connLimiter
	rejects *rejecter
	// rejectTLS, when set, answers refused connections over TLS (HTTP/1.1
	// only) because the client expects a TLS handshake.
	rejectTLS *tls.Config
	// guardWire turns on the plaintext checks of wireguard.go (plain
	// listener only: on the TLS listener the bytes here are encrypted).
	guardWire bool
}

func (ln *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c, ip: remoteIP(c.RemoteAddr()), limiter: ln.limiter}
		if ln.guardWire {
			lc.wire = &wireGuard{}
		}
		if reason := ln.limiter.admit(lc); reason != "" {
			ln.limiter.metrics.rejected.WithLabelValues(reason).Inc()
			ln.rejects.reject(c, reason, ln.rejectTLS)
			continue
		}
		return lc, nil
	}
}

func remoteIP(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// limitedConn gives its slot back on Close, exactly once.
type limitedConn struct {
	net.Conn
	ip      string
	limiter *connLimiter
	wire    *wireGuard // nil on TLS listeners
	once    sync.Once
}

// NetConn exposes the socket so a hijacking handler can write to it
// directly (the bridge's shared fan-out writer). Closing still goes through
// this wrapper, which releases the connection's slot.
func (c *limitedConn) NetConn() net.Conn { return c.Conn }

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.limiter.release(c) })
	return err
}

func (c *limitedConn) Read(b []byte) (int, error) { return c.wire.read(c.Conn, b) }

// Write swaps net/http's own plain-text error answers for JSON ones
// (wireGuard.write).
func (c *limitedConn) Write(b []byte) (int, error) { return c.wire.write(c.Conn, b) }

// CloseWrite keeps TCP half-close working through the wrapper (used by
// net/http and by reverse-proxy tunnels).
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// rejectDeadline bounds the time spent answering a refused connection.
const rejectDeadline = 2 * time.Second

// maxConcurrentRejects bounds the goroutines answering refused connections;
// beyond it a refused connection is closed without an answer.
const maxConcurrentRejects = 64

// rejecter answers refused connections with a minimal HTTP response. Its
// goroutines are owned by the Server, which waits for them on Shutdown.
type rejecter struct {
	wg    sync.WaitGroup
	slots chan struct{}
}

func newRejecter() *rejecter {
	return &rejecter{slots: make(chan struct{}, maxConcurrentRejects)}
}

func (r *rejecter) reject(c net.Conn, reason string, tlsConfig *tls.Config) {
	select {
	case r.slots <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { <-r.slots }()
		answerRefused(c, reason, tlsConfig)
	}()
}

func (r *rejecter) wait() { r.wg.Wait() }

var (
	refusedTotal = jsonerr.Response(503, "too_many_connections",
		"the gateway is at its connection limit, retry shortly", "Retry-After: 1\r\n")
	refusedPerIP = jsonerr.Response(429, "too_many_connections_per_ip",
		"too many connections from your address, retry shortly", "Retry-After: 1\r\n")
)

// answerRefused writes the response, half-closes, and reads what the client
// still sends so the close does not turn into a reset that eats the answer.
func answerRefused(c net.Conn, reason string, tlsConfig *tls.Config) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(rejectDeadline))
	var conn net.Conn = c
	if tlsConfig != nil {
		tc := tls.Server(c, tlsConfig)
		if err := tc.Handshake(); err != nil {
			return
		}
		conn = tc
	}
	resp := refusedTotal
	if reason == rejectPerIP {
		resp = refusedPerIP
	}
	if _, err := conn.Write(resp); err != nil {
		return
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, 64<<10))
}
