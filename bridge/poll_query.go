package bridge

import (
	"net/url"
	"strings"
)

// maxQueryParams is net/url's default bound on query parameters: a query
// with more parses as empty.
const maxQueryParams = 10000

// pollQuery is what a poll reads from its query string.
type pollQuery struct {
	cursor, wait, callback string
	hasCallback            bool
	// maxBytes and maxMessages ask for a smaller answer (poll_limit.go).
	maxBytes, maxMessages string
	// lim is the answer's bounds once checked (servePoll).
	lim pollLimits
}

// parsePollQuery reads cursor, wait, callback, max_bytes and max_messages
// in one pass, each as url.ParseQuery followed by Values.Get would (the
// first valid pair wins).
func parsePollQuery(raw string) pollQuery {
	var q pollQuery
	var hasCursor, hasWait, hasBytes, hasMessages bool
	if len(raw) > maxQueryParams && strings.Count(raw, "&")+1 > maxQueryParams {
		return q
	}
	for raw != "" && !(hasCursor && hasWait && q.hasCallback && hasBytes && hasMessages) {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		var dst *string
		var seen *bool
		switch {
		case !hasCursor && queryKeyIs(k, "cursor"):
			dst, seen = &q.cursor, &hasCursor
		case !hasWait && queryKeyIs(k, "wait"):
			dst, seen = &q.wait, &hasWait
		case !q.hasCallback && queryKeyIs(k, "callback"):
			dst, seen = &q.callback, &q.hasCallback
		case !hasBytes && queryKeyIs(k, "max_bytes"):
			dst, seen = &q.maxBytes, &hasBytes
		case !hasMessages && queryKeyIs(k, "max_messages"):
			dst, seen = &q.maxMessages, &hasMessages
		default:
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			continue
		}
		*dst, *seen = val, true
	}
	return q
}

// queryValue returns the first value of key in a raw query string, exactly
// as url.ParseQuery followed by Values.Get and Has would, without building
// the map: a poll is one request per delivery, so its query is read on
// every delivery. Pairs holding ';' or a bad escape are skipped, as
// ParseQuery skips them. Nothing is allocated unless the value is escaped.
func queryValue(raw, key string) (value string, ok bool) {
	if len(raw) > maxQueryParams && strings.Count(raw, "&")+1 > maxQueryParams {
		return "", false
	}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if !queryKeyIs(k, key) {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			continue
		}
		return val, true
	}
	return "", false
}

// queryKeyIs reports whether the escaped key k unescapes to key (a key that
// does not unescape never matches).
func queryKeyIs(k, key string) bool {
	if !hasEscape(k) {
		return k == key
	}
	u, err := url.QueryUnescape(k)
	return err == nil && u == key
}

// queryGet is Values.Get on the raw query of a request.
func queryGet(raw, key string) string {
	v, _ := queryValue(raw, key)
	return v
}

// hasEscape reports whether s holds '%' or '+' (so it unescapes to
// something else).
func hasEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			return true
		}
	}
	return false
}
