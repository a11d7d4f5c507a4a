package bridge

import (
	"net/http"
	"net/url"
	"strings"
)

// originPolicy is a route's `origins` setting.
type originPolicy struct {
	any     bool
	allowed map[string]bool // lower-cased "scheme://host[:port]"
}

func newOriginPolicy(origins []string) originPolicy {
	p := originPolicy{allowed: map[string]bool{}}
	for _, o := range origins {
		if o == "*" {
			p.any = true
			continue
		}
		p.allowed[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return p
}

// check reports whether the request's Origin may use the route and whether
// it is cross-origin (so CORS headers are due). A request without Origin is
// judged by where a browser says it came from: a <script> tag (JSONP) or an
// old browser's EventSource sends no Origin but does send Referer and, in
// current browsers, Sec-Fetch-Site. Without any of these (curl, a server)
// it is allowed: there is no browser whose cookies could be abused.
func (p originPolicy) check(r *http.Request) (allowed, cross bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return p.checkImplied(r), false
	}
	if sameOrigin(origin, r.Host) {
		return true, false
	}
	if p.any || p.allowed[strings.ToLower(origin)] {
		return true, true
	}
	return false, true
}

// checkImplied judges a request that carries no Origin header.
func (p originPolicy) checkImplied(r *http.Request) bool {
	if p.any {
		return true
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		if err == nil && u.Host != "" {
			if strings.EqualFold(u.Host, r.Host) {
				return true
			}
			return p.allowed[strings.ToLower(u.Scheme+"://"+u.Host)]
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		// A browser request from another site that hides its referrer.
		return false
	}
	return true
}

func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// setCORS adds the headers that let an allowed cross-origin page read the
// answer (credentials included: sessions may be bound to cookies).
func setCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
}

// preflight answers a CORS preflight for /poll and /send.
func preflight(w http.ResponseWriter, r *http.Request) {
	setCORS(w, r)
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}
