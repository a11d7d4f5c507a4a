package proxy

import (
	"net/http"
	"net/url"
	"strings"
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

// logAccess writes the one access line of a finished request. Only the
// fields below are logged: request headers (Cookie, Authorization) never.
func (s *Server) logAccess(r *http.Request, rec *recorder, route, kind string, elapsed time.Duration) {
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
		zap.String("method", r.Method),
		zap.String("path", r.URL.Path),
		zap.String("query", redactQuery(r.URL.RawQuery)),
		zap.String("proto", r.Proto),
		zap.Int("status", rec.statusCode()),
		zap.Int64("bytes", rec.written()),
		zap.Duration("duration", elapsed),
		zap.String("remote", forwarded.Of(r).IP), // the client, behind trusted proxies too
		zap.String("peer", r.RemoteAddr),
		zap.String("user_agent", r.UserAgent()),
	)
}
