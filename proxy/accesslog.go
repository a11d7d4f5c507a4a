package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/internal/forwarded"
)

// sensitiveQueryKeys have their values replaced in logged query strings:
// credentials sometimes travel in URLs (EventSource cannot set headers).
var sensitiveQueryKeys = map[string]bool{
	"token": true, "access_token": true, "id_token": true, "refresh_token": true,
	"auth": true, "authorization": true, "password": true, "passwd": true,
	"secret": true, "key": true, "api_key": true, "apikey": true,
	"signature": true, "sig": true, "code": true,
}

// bearerQueryKeys carry session ids, which are bearer secrets (cursors
// start with the session id): logged shortened to a prefix that still
// correlates with the bridge's session lines, which use the same prefix.
var bearerQueryKeys = map[string]bool{"session": true, "cursor": true, "lasteventid": true}

// bearerPrefix is how much of a session id or cursor is logged.
const bearerPrefix = 8

// redactQuery keeps the shape of a query string for debugging but hides the
// values of parameters that look like credentials.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		key, err := url.QueryUnescape(name)
		if err != nil {
			key = name
		}
		lower := strings.ToLower(key)
		switch {
		case !hasValue:
		case sensitiveQueryKeys[lower]:
			parts[i] = name + "=REDACTED"
		case bearerQueryKeys[lower] && len(p)-len(name)-1 > bearerPrefix:
			parts[i] = p[:len(name)+1+bearerPrefix] + "..."
		}
	}
	return strings.Join(parts, "&")
}

// accessLine is what a request's access line says besides its route, kind
// and duration. For a hijacked connection served past its handler it is
// all that is kept until the connection ends (not the request, its headers
// or the recorder: about 1 KiB per idle subscriber).
type accessLine struct {
	method, path, rawQuery, proto string
	remote, peer, userAgent       string
	status                        int
	bytes                         int64
	tunnelBytes                   *atomic.Int64 // the recorder's, still counting
}

// lineOf takes the access line's fields from a request and its recorder.
func lineOf(r *http.Request, rec *recorder) accessLine {
	return accessLine{
		method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, proto: r.Proto,
		remote: forwarded.Of(r).IP, // the client, behind trusted proxies too
		peer:   r.RemoteAddr, userAgent: r.UserAgent(),
		status: rec.statusCode(), bytes: rec.bytes, tunnelBytes: rec.tunnelBytes,
	}
}

// written is the response's byte count so far, hijacked bytes included.
func (l *accessLine) written() int64 {
	if l.tunnelBytes != nil {
		return l.bytes + l.tunnelBytes.Load()
	}
	return l.bytes
}

// logAccess writes the one access line of a finished request. Only the
// fields below are logged: request headers (Cookie, Authorization) never.
func (s *Server) logAccess(l *accessLine, route, kind string, elapsed time.Duration) {
	if !s.accessLog.Load() {
		return
	}
	ce := s.accessLogger.Check(zap.InfoLevel, "request")
	if ce == nil {
		return
	}
	ce.Write(
		zap.String("route", route),
		zap.String("kind", kind),
		zap.String("method", l.method),
		zap.String("path", l.path),
		zap.String("query", redactQuery(l.rawQuery)),
		zap.String("proto", l.proto),
		zap.Int("status", l.status),
		zap.Int64("bytes", l.written()),
		zap.Duration("duration", elapsed),
		zap.String("remote", l.remote),
		zap.String("peer", l.peer),
		zap.String("user_agent", l.userAgent),
	)
}
