package bridge

import (
	"bytes"
	"hash/maphash"
	"net/http"
	"strings"

	"github.com/bridgeway/bridgeway/bridge/wire"
)

// After the first next poll of a connection passed every check
// (poll_next_match.go), later ones are matched by their bytes: the same
// head byte for byte but for the cursor's value, which must be a plain
// cursor (no escapes) at the end of the topic's log. The same bytes mean
// the same method, target, protocol, host, credentials, origin,
// forwarded headers and framing, so every check the proxy and the route
// made holds again, without parsing. What is kept is small: two keyed
// hashes (pollSeed: a crafted head cannot be made to collide), where the
// cursor's value starts, and how long the rest is.

// rawPoll is what a next poll's head must repeat (ok once known).
type rawPoll struct {
	ok       bool
	pre, suf uint64    // hashes of the head before and after the cursor's value
	at       int       // where the value starts
	sufLen   int       // bytes after the value, up to the blank line
	path     string    // the request's path, for the reload check
	set      *settings // the route's settings it was checked against
}

// maxRawCursor bounds the cursor's value matched here (longer: net/http).
const maxRawCursor = maxEpochCursor

// makeRawPoll keeps head (one whole request head, served as r: a checked
// next poll) for matching the next ones; not ok when the cursor's value
// cannot be found plainly in the request line.
func makeRawPoll(head []byte, r *http.Request, set *settings) rawPoll {
	at, end, ok := cursorValueAt(head, r.RequestURI)
	if !ok {
		return rawPoll{}
	}
	return rawPoll{ok: true, pre: maphash.Bytes(pollSeed, head[:at]), suf: maphash.Bytes(pollSeed, head[end:]),
		at: at, sufLen: len(head) - end, path: r.URL.Path, set: set}
}

// cursorValueAt finds the bytes of the single cursor's value in head's
// request line, whose target is uri.
func cursorValueAt(head []byte, uri string) (at, end int, ok bool) {
	sp := bytes.IndexByte(head, ' ')
	if sp < 0 || !bytes.HasPrefix(head[sp+1:], []byte(uri)) {
		return 0, 0, false
	}
	q := strings.IndexByte(uri, '?')
	if q < 0 {
		return 0, 0, false
	}
	off := sp + 1 + q + 1
	found := false
	for raw := uri[q+1:]; ; {
		pair, rest, more := strings.Cut(raw, "&")
		if k, v, _ := strings.Cut(pair, "="); queryKeyIs(k, "cursor") {
			if found || !plainCursor([]byte(v)) {
				return 0, 0, false
			}
			found = true
			at = off + len(pair) - len(v)
			end = at + len(v)
		}
		if !more {
			break
		}
		off += len(pair) + 1
		raw = rest
	}
	return at, end, found
}

// plainCursor reports whether v has only the bytes a cursor is written
// with (wire.ParseCursor decides the rest), within the bound.
func plainCursor(v []byte) bool {
	if len(v) == 0 || len(v) > maxRawCursor {
		return false
	}
	for _, c := range v {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// match reports whether head repeats the kept head but for its cursor,
// and returns the cursor, which must be the end of the topic's log.
// set is the route's settings now: a reload that changed them may have
// changed what the handler checks.
func (k *rawPoll) match(set *settings, head []byte) (wire.Cursor, bool) {
	n := len(head)
	if !k.ok || n <= k.at+k.sufLen || n-k.at-k.sufLen > maxRawCursor || set != k.set {
		return wire.Cursor{}, false
	}
	v := head[k.at : n-k.sufLen]
	if !plainCursor(v) || maphash.Bytes(pollSeed, head[:k.at]) != k.pre || maphash.Bytes(pollSeed, head[n-k.sufLen:]) != k.suf {
		return wire.Cursor{}, false
	}
	c, err := wire.ParseCursor(string(v))
	return c, err == nil
}
