package bridge

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/bridgeway/bridgeway/internal/forwarded"
)

// originPolicy is a route's `origins` setting.
type originPolicy struct {
	any     bool
	allowed map[string]bool // lower-cased "scheme://host[:port]", or "null"
	// headers a preflight may allow (canonical names): what the library
	// sends and what the route forwards upstream.
	headers map[string]bool
}

// originVerdict is how a request may use the route.
type originVerdict int

const (
	originRefused originVerdict = iota
	// originSame: the gateway's own origin, a listed origin judged by its
	// Referer, or no browser at all; no CORS headers are due.
	originSame
	// originListed: a cross origin named in `origins`: credentialed CORS.
	originListed
	// originAnyone: a cross origin let in only by "*": CORS without
	// credentials, and the request's Cookie and Authorization are dropped,
	// so no site can act with a visitor's credentials (a browser attaches
	// cookies to cross-site WebSocket handshakes and <script> loads).
	originAnyone
)

// headersAlwaysAllowed are request headers the browser library sends.
var headersAlwaysAllowed = []string{"Content-Type", "Last-Event-ID"}

func newOriginPolicy(origins, forwardHeaders []string) originPolicy {
	p := originPolicy{allowed: map[string]bool{}, headers: map[string]bool{}}
	for _, o := range origins {
		if o == "*" {
			p.any = true
			continue
		}
		p.allowed[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	for _, h := range append(append([]string(nil), headersAlwaysAllowed...), forwardHeaders...) {
		p.headers[textproto.CanonicalMIMEHeaderKey(h)] = true
	}
	return p
}

// check judges the request's Origin. A request without Origin is judged by
// where a browser says it came from: a <script> tag (JSONP) or an old
// browser's EventSource sends no Origin but does send Referer and, in
// current browsers, Sec-Fetch-Site. Without any of these (curl, a server)
// it is allowed: there is no browser whose cookies could be abused.
func (p originPolicy) check(r *http.Request) originVerdict {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return p.checkImplied(r)
	}
	switch {
	case origin == "null":
		// Sandboxed frames, file: pages, some redirects: no site to name.
		if p.allowed["null"] {
			return originListed
		}
		return originRefused
	case forwarded.Of(r).SameOrigin(origin):
		return originSame
	case p.allowed[strings.ToLower(origin)]:
		return originListed
	case p.any:
		return originAnyone
	}
	return originRefused
}

// checkImplied judges a request that carries no Origin header.
func (p originPolicy) checkImplied(r *http.Request) originVerdict {
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		if err == nil && u.Host != "" {
			o := u.Scheme + "://" + u.Host
			if forwarded.Of(r).SameOrigin(o) || p.allowed[strings.ToLower(o)] {
				return originSame
			}
			if p.any {
				return originAnyone
			}
			return originRefused
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		// A browser request from another site that hides its referrer.
		if p.any {
			return originAnyone
		}
		return originRefused
	}
	return originSame
}

// admit refuses a disallowed origin (403 origin_not_allowed) and readies an
// allowed cross-origin request: CORS headers, credentials dropped for "*".
func (p originPolicy) admit(w http.ResponseWriter, r *http.Request) bool {
	v := p.check(r)
	if v == originRefused {
		writeError(w, errOriginRefused)
		return false
	}
	setCORS(w, r, v)
	return true
}

// setCORS adds the headers that let an allowed cross-origin page read the
// answer: with credentials for a listed origin (sessions may be bound to
// cookies), without for "*".
func setCORS(w http.ResponseWriter, r *http.Request, v originVerdict) {
	h := w.Header()
	switch v {
	case originListed:
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Set("Access-Control-Allow-Credentials", "true")
	case originAnyone:
		r.Header.Del("Cookie")
		r.Header.Del("Authorization")
		h.Set("Access-Control-Allow-Origin", "*")
	default:
		return
	}
	h.Add("Vary", "Origin")
}

// servePreflight answers OPTIONS for /poll and /send: 403 for a refused
// origin, 204 with CORS headers for an allowed cross origin. It allows only
// the requested headers the route uses, never whatever was asked for.
func (p originPolicy) servePreflight(w http.ResponseWriter, r *http.Request) {
	v := p.check(r)
	switch v {
	case originRefused:
		writeError(w, errOriginRefused)
		return
	case originSame:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	setCORS(w, r, v)
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if allow := p.allowHeaders(r.Header.Get("Access-Control-Request-Headers"), v); allow != "" {
		h.Set("Access-Control-Allow-Headers", allow)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// allowHeaders keeps the requested headers the route uses; for "*" never
// Authorization or Cookie (credentials are not for any site).
func (p originPolicy) allowHeaders(requested string, v originVerdict) string {
	var keep []string
	for _, name := range strings.Split(requested, ",") {
		name = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))
		if !p.headers[name] || v == originAnyone && (name == "Authorization" || name == "Cookie") {
			continue
		}
		keep = append(keep, strings.ToLower(name))
	}
	return strings.Join(keep, ", ")
}
