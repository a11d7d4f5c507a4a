package upstream

import (
	"go.uber.org/zap"
)

// health logs a reconnecting (broadcast) upstream's state changes once
// each: up → failing at warn, failing → recovered at info. Retries in
// between log at debug only, so an upstream down for an hour writes two
// lines, not one per backoff step. Owned by Run's goroutine (no lock);
// session-mode upstreams end with their session instead and log nothing
// here.
type health struct {
	s       *settings
	failing bool
}

// fail records a failed dial, request or a lost connection.
func (h *health) fail(what string) {
	if !h.s.reconnect {
		return
	}
	if h.failing {
		h.s.log().Debug("upstream still failing", zap.String("error", what))
		return
	}
	h.failing = true
	h.s.log().Warn("upstream failing, retrying with backoff",
		zap.String("upstream", h.s.logURL()), zap.String("error", what))
}

// ok records a successful dial or request.
func (h *health) ok() {
	if !h.failing {
		return
	}
	h.failing = false
	h.s.log().Info("upstream recovered", zap.String("upstream", h.s.logURL()))
}

// logURL is the upstream URL without its query (which may carry a token).
func (s *settings) logURL() string {
	u := *s.url
	u.RawQuery, u.ForceQuery, u.User = "", false, nil
	return u.String()
}
