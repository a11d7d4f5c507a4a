package passthrough

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/bridgeway/bridgeway/routing"
)

// errNoRoute means the request path does not lie under the route: the
// server routed a request here that this handler cannot map.
var errNoRoute = errors.New("path is not under the route")

// upstreamTemplate is the route's upstream URL split into the parts the
// path rule needs. Placeholders are kept as written ("{symbol}") in the
// path and query templates and filled per request; scheme and host never
// hold placeholders, so no client input can pick the host.
type upstreamTemplate struct {
	scheme    string // http or https (ws/wss mapped)
	host      string // host[:port]
	secure    bool   // TLS to the upstream
	pathTmpl  string // escaped path, may hold {name}; "" when absent
	queryTmpl string // raw query, may hold {name}; "" when absent
	hasPath   bool   // nginx rule: a path ("/" included) replaces the route prefix
}

// target is the upstream address of one request, computed before proxying.
type target struct {
	base    *url.URL // scheme, host and filled upstream query (for SetURL)
	path    string   // decoded upstream path
	rawPath string   // escaped upstream path as it goes on the wire
}

// parseUpstream splits the upstream URL template and checks that every
// placeholder it uses is defined by the route path.
func parseUpstream(raw string, pattern routing.Pattern) (upstreamTemplate, error) {
	var t upstreamTemplate
	schemeEnd := strings.Index(raw, "://")
	if schemeEnd <= 0 {
		return t, fmt.Errorf("upstream url %q: missing scheme", raw)
	}
	switch strings.ToLower(raw[:schemeEnd]) {
	case "http", "ws":
		t.scheme = "http"
	case "https", "wss":
		t.scheme, t.secure = "https", true
	default:
		return t, fmt.Errorf("upstream url %q: scheme must be http, https, ws or wss", raw)
	}
	rest := raw[schemeEnd+3:]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return t, fmt.Errorf("upstream url %q: fragments are not allowed", raw)
	}
	hostEnd := strings.IndexAny(rest, "/?")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	t.host = rest[:hostEnd]
	rest = rest[hostEnd:]
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		t.pathTmpl, t.queryTmpl = rest[:q], rest[q+1:]
	} else {
		t.pathTmpl = rest
	}
	// Like nginx's proxy_pass: "http://up" keeps the client path, while
	// any path, even "http://up/", replaces the matched route prefix.
	t.hasPath = t.pathTmpl != ""

	if t.host == "" || strings.ContainsAny(t.host, "{}") {
		return t, fmt.Errorf("upstream url %q: host must be a fixed name (no placeholders)", raw)
	}
	if strings.Contains(t.host, "@") {
		return t, fmt.Errorf("upstream url %q: user info is not supported (use upstream.headers)", raw)
	}
	defined := map[string]bool{}
	sample := map[string]string{}
	for _, name := range pattern.Params() {
		defined[name] = true
		sample[name] = "x"
	}
	for _, name := range placeholders(t.pathTmpl + "?" + t.queryTmpl) {
		if !defined[name] {
			return t, fmt.Errorf("upstream url %q: placeholder {%s} is not in the route path", raw, name)
		}
	}
	filled := t.scheme + "://" + t.host + routing.Fill(t.pathTmpl, sample)
	if t.queryTmpl != "" {
		filled += "?" + routing.Fill(t.queryTmpl, sample)
	}
	u, err := url.Parse(filled)
	if err != nil {
		return t, fmt.Errorf("upstream url %q: %w", raw, err)
	}
	if u.Hostname() == "" {
		return t, fmt.Errorf("upstream url %q: missing host", raw)
	}
	return t, nil
}

// placeholders lists the {name} tokens in s.
func placeholders(s string) []string {
	var names []string
	for {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			return names
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return names
		}
		names = append(names, s[open+1:open+end])
		s = s[open+end+1:]
	}
}

// resolve maps a client request path (escaped form first, so %2F and other
// escapes survive untouched) to the upstream path and query, following
// nginx's proxy_pass rule.
func (t upstreamTemplate) resolve(pattern routing.Pattern, escapedPath, decodedPath string) (target, error) {
	params, rest, ok := pattern.Match(escapedPath)
	requestPath := escapedPath
	if ok {
		for name, v := range params {
			unescaped, err := url.PathUnescape(v)
			if err != nil {
				return target{}, fmt.Errorf("placeholder {%s}: %w", name, err)
			}
			params[name] = unescaped
		}
	} else {
		// The router matched on the decoded path (e.g. "/ap%70"): fall back
		// to it and re-escape what we forward.
		params, rest, ok = pattern.Match(decodedPath)
		if !ok {
			return target{}, errNoRoute
		}
		rest = (&url.URL{Path: rest}).EscapedPath()
		requestPath = (&url.URL{Path: decodedPath}).EscapedPath()
	}

	pathValues := make(map[string]string, len(params))
	queryValues := make(map[string]string, len(params))
	for name, v := range params {
		pathValues[name] = url.PathEscape(v)
		queryValues[name] = url.QueryEscape(v)
	}

	var raw string
	switch {
	case !t.hasPath:
		raw = requestPath
	case rest == "" || rest == "/":
		raw = routing.Fill(t.pathTmpl, pathValues)
		// Keep a trailing slash the client asked for ("/app/" → "/base/").
		if strings.HasSuffix(requestPath, "/") && !strings.HasSuffix(raw, "/") {
			raw += "/"
		}
	default:
		raw = strings.TrimSuffix(routing.Fill(t.pathTmpl, pathValues), "/") + rest
	}
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return target{}, fmt.Errorf("upstream path: %w", err)
	}
	base := &url.URL{Scheme: t.scheme, Host: t.host, RawQuery: routing.Fill(t.queryTmpl, queryValues)}
	return target{base: base, path: decoded, rawPath: raw}, nil
}
