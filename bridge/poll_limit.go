package bridge

import (
	"strconv"

	"github.com/bridgeway/bridgeway/config"
)

// pollLimits bound one poll answer: at most messages messages, whose
// message objects take at most bytes bytes in all. A first message larger
// than bytes still goes, alone, so every poll makes progress.
type pollLimits struct {
	messages, bytes int
}

// pollLimits reads ?max_messages= and ?max_bytes=: a client behind a proxy
// that refuses large answers asks for smaller ones. Absent, the route's
// poll_max_bytes and pollMaxMessages apply; larger values are cut to the
// server's maxima.
func (h *RouteHandler) pollLimits(q *pollQuery) (pollLimits, *apiError) {
	l := pollLimits{messages: pollMaxMessages, bytes: h.set().pollMaxBytes}
	if q.maxMessages != "" {
		n, ok := positiveInt(q.maxMessages)
		if !ok {
			return l, errBadLimit
		}
		l.messages = min(n, pollMaxMessages)
	}
	if q.maxBytes != "" {
		n, ok := positiveInt(q.maxBytes)
		if !ok {
			return l, errBadLimit
		}
		l.bytes = min(n, int(config.MaxPollBytes))
	}
	return l, nil
}

// positiveInt parses a decimal integer above 0; values past the maxima
// only need to be recognised as large, so they saturate.
func positiveInt(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && s[0] != '-' {
		return int(config.MaxPollBytes), true
	}
	return n, err == nil && n > 0
}
