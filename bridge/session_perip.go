package bridge

import (
	"net/http"
	"sync"

	"github.com/bridgeway/bridgeway/internal/forwarded"
)

// sessionsPerIP caps the sessions one client address holds open at once,
// across the bridge's routes (limits.max_sessions_per_ip; 0: no cap). Each
// session costs an upstream connection, so without it one address could
// take a route's whole session budget through a single keep-alive
// connection. The address is the client's (clientIP): behind a load
// balancer listed in trusted_proxies, the one it forwards. In a cluster each
// instance counts the sessions opened through it.
type sessionsPerIP struct {
	max int

	mu   sync.Mutex
	open map[string]int
}

func newSessionsPerIP(max int) *sessionsPerIP {
	return &sessionsPerIP{max: max, open: map[string]int{}}
}

// take counts one more session for ip, or reports false when ip is at the
// cap. An empty ip (no cap) is always let in and never counted.
func (c *sessionsPerIP) take(ip string) bool {
	if c.max <= 0 || ip == "" {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[ip] >= c.max {
		return false
	}
	c.open[ip]++
	return true
}

// give hands back a session taken for ip.
func (c *sessionsPerIP) give(ip string) {
	if c.max <= 0 || ip == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[ip] <= 1 {
		delete(c.open, ip)
		return
	}
	c.open[ip]--
}

// clientIP is the request's client address: the peer's, or behind a
// trusted proxy the one it names (internal/forwarded, resolved by proxy).
func clientIP(r *http.Request) string {
	return forwarded.Of(r).IP
}
