package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bridgeway/bridgeway/routing"
)

// Upper bounds that keep one config line from exhausting memory.
const (
	maxBuffer = 1 << 20
)

// validator checks what the decoder cannot: values against each other and
// against the rules in docs/configuration.md. Problems are reported at the
// position of the offending key, or of its nearest written parent.
type validator struct {
	d   *decoder
	cfg *Config
}

func (v *validator) validate() {
	c := v.cfg
	v.listenAddr("listen", c.Listen)
	if c.Admin.Listen != nil && *c.Admin.Listen != "" {
		v.listenAddr("admin.listen", *c.Admin.Listen)
		v.distinctAddr("admin.listen", *c.Admin.Listen, "listen", c.Listen)
	}
	if c.Admin.Pprof && c.Admin.Listen != nil && *c.Admin.Listen != "" && !loopbackAddr(*c.Admin.Listen) {
		v.warnf("admin.pprof", "the profiler is served on %q, which is not a loopback address: whoever reaches it can read the process's memory layout, goroutines and timings (keep admin.listen on 127.0.0.1 or a private network)", *c.Admin.Listen)
	}
	v.oneOf("log.level", c.Log.Level, logLevels...)
	v.oneOf("log.format", c.Log.Format, logFormats...)
	v.limits(&c.Limits)
	if c.TLS != nil {
		v.tls(c.TLS)
		if c.Admin.Listen != nil && *c.Admin.Listen != "" {
			v.distinctAddr("admin.listen", *c.Admin.Listen, "tls.listen", c.TLS.Listen)
		}
	}
	if c.Cluster != nil {
		v.cluster(c.Cluster)
	}
	v.edge()
	if len(c.Routes) == 0 && !v.unreadable("routes") {
		v.d.report(v.at("routes"), "", "no routes: the file must define at least one entry under \"routes\"")
	}
	firstPath := map[string]int{}
	for i := range c.Routes {
		prefix := fmt.Sprintf("routes[%d]", i)
		v.route(prefix, &c.Routes[i])
		key := routeKey(c.Routes[i].Path)
		if j, dup := firstPath[key]; dup {
			v.errorf(prefix+".path", "duplicate path %q (routes[%d] has the same path)", c.Routes[i].Path, j)
			continue
		}
		firstPath[key] = i
	}
}

func (v *validator) limits(l *Limits) {
	if l.MaxConnections < 1 {
		v.errorf("limits.max_connections", "must be at least 1, got %d", l.MaxConnections)
	} else if fds := fdLimit(); fds > 0 && uint64(l.MaxConnections) > fds/2 {
		v.warnf("limits.max_connections", "%d is more than half the process's open-file limit (%d, ulimit -n): clients could take the descriptors that upstream sockets need; raise the limit or lower max_connections", l.MaxConnections, fds)
	}
	if l.MaxConnectionsPerIP < 0 {
		v.errorf("limits.max_connections_per_ip", "must not be negative (0 means no per-IP cap), got %d", l.MaxConnectionsPerIP)
	}
	if l.MaxSessionsPerIP < 0 {
		v.errorf("limits.max_sessions_per_ip", "must not be negative (0 means no per-IP cap), got %d", l.MaxSessionsPerIP)
	}
	if l.MaxTopics < 1 {
		v.errorf("limits.max_topics", "must be at least 1, got %d", l.MaxTopics)
	}
	if l.MaxTopicsPerIP < 0 {
		v.errorf("limits.max_topics_per_ip", "must not be negative (0 means no per-IP cap), got %d", l.MaxTopicsPerIP)
	}
	if l.MaxBatchMessages < 1 {
		v.errorf("limits.max_batch_messages", "must be at least 1, got %d", l.MaxBatchMessages)
	}
	if l.ReadHeaderTimeout <= 0 {
		v.errorf("limits.read_header_timeout", "must be greater than 0")
	}
	if l.BodyTimeout <= 0 {
		v.errorf("limits.body_timeout", "must be greater than 0")
	}
	if l.SendTimeout <= 0 {
		v.errorf("limits.send_timeout", "must be greater than 0")
	}
	v.positiveSize("limits.max_header_bytes", l.MaxHeaderBytes)
	v.positiveSize("limits.max_message_bytes", l.MaxMessageBytes)
	v.positiveSize("limits.max_body_bytes", l.MaxBodyBytes)
	if l.HTTP2MaxResets < 1 {
		v.errorf("limits.http2_max_resets", "must be at least 1, got %d", l.HTTP2MaxResets)
	}
}

func (v *validator) tls(t *TLS) {
	v.listenAddr("tls.listen", t.Listen)
	v.distinctAddr("tls.listen", t.Listen, "listen", v.cfg.Listen)
	hasFiles := t.CertFile != "" || t.KeyFile != ""
	switch {
	case t.ACME != nil && hasFiles:
		v.errorf("tls", "set either acme or cert_file/key_file, not both")
	case t.ACME == nil && !hasFiles:
		v.errorf("tls", "needs a certificate source: acme, or cert_file and key_file")
	case t.CertFile != "" && t.KeyFile == "":
		v.errorf("tls.cert_file", "cert_file needs key_file")
	case t.KeyFile != "" && t.CertFile == "":
		v.errorf("tls.key_file", "key_file needs cert_file")
	}
	if t.ACME != nil {
		v.acme(t.ACME)
	}
	if t.HSTS != nil {
		v.hsts(t.HSTS)
	}
}

// minPreloadMaxAge is the preload list's smallest accepted max-age.
const minPreloadMaxAge = Duration(365 * 24 * time.Hour)

func (v *validator) hsts(h *HSTS) {
	switch {
	case h.MaxAge < Duration(time.Second):
		v.errorf("tls.hsts.max_age", "must be at least 1s, got %s", h.MaxAge)
	case h.MaxAge%Duration(time.Second) != 0:
		v.errorf("tls.hsts.max_age", "must be whole seconds, got %s", h.MaxAge)
	}
	if h.Preload && (!h.IncludeSubdomains || h.MaxAge < minPreloadMaxAge) {
		v.errorf("tls.hsts.preload", "needs include_subdomains: true and max_age of at least 8760h (the preload list's rules)")
	}
}

func (v *validator) acme(a *ACME) {
	if len(a.Domains) == 0 {
		v.errorf("tls.acme.domains", "list at least one domain to get certificates for")
	}
	seen := map[string]bool{}
	for i, dom := range a.Domains {
		path := fmt.Sprintf("tls.acme.domains[%d]", i)
		if !validDomain(dom) {
			v.errorf(path, "bad domain %q (want a host name such as app.example.com, no scheme or port)", dom)
			continue
		}
		if seen[strings.ToLower(dom)] {
			v.errorf(path, "duplicate domain %q", dom)
		}
		seen[strings.ToLower(dom)] = true
	}
	if a.Email != "" && !strings.Contains(a.Email, "@") {
		v.errorf("tls.acme.email", "bad email %q", a.Email)
	}
	if u, err := url.Parse(a.CA); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.errorf("tls.acme.ca", "bad ACME directory URL %q (want an https:// or http:// URL)", a.CA)
	}
	if a.Storage == "" {
		v.errorf("tls.acme.storage", "must not be empty")
	}
}

var domainLabel = regexp.MustCompile(`^(\*|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)$`)

func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for i, label := range strings.Split(d, ".") {
		if label == "*" && i > 0 || !domainLabel.MatchString(label) {
			return false
		}
	}
	return true
}

func (v *validator) cluster(c *Cluster) {
	if c.Redis == "" {
		v.errorf("cluster.redis", "required: a redis:// or rediss:// URL")
		return
	}
	u, err := url.Parse(c.Redis)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		v.errorf("cluster.redis", "bad redis URL %q (want redis://HOST:PORT/DB or rediss://...)", redactURL(c.Redis))
	}
}

// redactURL hides a password in a URL before it goes into a message.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		return u.Redacted()
	}
	return raw
}

func (v *validator) listenAddr(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf(path, "bad listen address %q (want HOST:PORT or :PORT)", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.errorf(path, "bad port %q in listen address %q (want 0-65535)", port, addr)
	}
	if strings.ContainsAny(host, " /") {
		v.errorf(path, "bad host %q in listen address %q", host, addr)
	}
}

// distinctAddr reports two listeners on the same fixed address; port 0 picks
// a free port, so it never clashes.
func (v *validator) distinctAddr(path, addr, otherPath, other string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" || addr != other {
		return
	}
	v.errorf(path, "same address as %s (%q)", otherPath, addr)
}

func (v *validator) positiveSize(path string, s Size) {
	if s <= 0 {
		v.errorf(path, "must be greater than 0")
	}
}

func (v *validator) oneOf(path, got string, allowed ...string) bool {
	if slices.Contains(allowed, got) {
		return true
	}
	v.errorf(path, "unknown value %q (want %s)", got, orList(allowed))
	return false
}

// orList formats ["a","b","c"] as "a, b or c".
func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// at returns the position of path, or of its nearest ancestor in the file.
func (v *validator) at(path string) pos {
	for {
		if p, ok := v.d.seen[path]; ok {
			return p
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			if p, ok := v.d.seen[""]; ok && path != "" {
				return p
			}
			return pos{1, 1}
		}
		path = path[:cut]
	}
}

// errorf reports a problem at path, unless path or a parent of it could not
// be read (its zero value would only cause a follow-on message).
func (v *validator) errorf(path, format string, args ...any) {
	if v.unreadable(path) {
		return
	}
	v.d.report(v.at(path), path, format, args...)
}

// loopbackAddr reports whether a listen address only accepts local
// connections ("" and wildcard hosts listen on every interface).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) unreadable(path string) bool {
	for path != "" {
		if v.d.bad[path] {
			return true
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			return false
		}
		path = path[:cut]
	}
	return false
}

// routeKey normalises a route path for duplicate detection: placeholders
// match anything, so "/p/{a}" and "/p/{b}" are the same route.
func routeKey(path string) string {
	p, err := routing.Compile(path)
	if err != nil {
		return "\x00" + path
	}
	segs := strings.Split(strings.Trim(p.String(), "/"), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "{}"
		}
	}
	return "/" + strings.Join(segs, "/")
}
