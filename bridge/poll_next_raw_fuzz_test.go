package bridge

import (
	"bytes"
	"net/http"
	"testing"
)

// FuzzRawPollMatch: a head that the byte matcher takes for a repeat of a
// kept head (one the bridge served as a next poll) is one that the
// handler's way would take too: net/http's parser reads it whole, it is a
// plain keep-alive GET with one Host line and nothing after it, the same
// request but for its cursor (the fingerprint), and its cursor is the one
// the matcher returns.
func FuzzRawPollMatch(f *testing.F) {
	const kept = "GET /chat/poll?x=1&cursor=ep0ch-12&y=2 HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n"
	for _, next := range []string{
		"GET /chat/poll?x=1&cursor=ep0ch-13&y=2 HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n",
		"GET /chat/poll?x=1&cursor=ep0ch-13&y=2 HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"GET /chat/poll?x=1&cursor=ep0ch-13 HTTP/1.1\r\nHost: x&y=2 HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n",
		"GET /chat/poll?x=1&cursor=ep0ch-1%33&y=2 HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n",
		"GET /chat/poll?x=1&cursor=ep0ch-013&y=2 HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n",
		"GET /chat/poll?x=1&cursor=&y=2 HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n",
		"GET /chat/poll?x=1&cursor=ep0ch-13&y=2 HTTP/1.1\r\nHost: gw\r\nAccept: text/plain\r\n\r\n",
	} {
		f.Add([]byte(kept), []byte(next))
	}
	f.Add([]byte("GET /chat/poll?cursor=a-1 HTTP/1.1\r\nHost: gw\r\n\r\n"), []byte("GET /chat/poll?cursor=a-2 HTTP/1.1\r\nHost: gw\r\n\r\n"))
	f.Add([]byte("GET /p?cursor=a-1&cursor=a-2 HTTP/1.1\r\nHost: gw\r\n\r\n"), []byte("GET /p?cursor=a-1&cursor=a-3 HTTP/1.1\r\nHost: gw\r\n\r\n"))
	f.Fuzz(func(t *testing.T, keptHead, head []byte) {
		if len(keptHead) > nextReadSize || len(head) > nextReadSize {
			return
		}
		r0 := servedNextPoll(keptHead)
		if r0 == nil {
			return // the handler's way would not have served it here
		}
		fp0, _ := pollFingerprint(r0)
		k := makeRawPoll(keptHead, r0, nil)
		c, ok := k.match(nil, head)
		if !ok {
			return
		}
		r := servedNextPoll(head)
		if r == nil {
			t.Fatalf("matched %q, which the handler's way refuses", head)
		}
		if fp, _ := pollFingerprint(r); fp != fp0 {
			t.Fatalf("matched %q, another request than %q", head, keptHead)
		}
		if got := parsePollQuery(r.URL.RawQuery).cursor; got != c.String() {
			t.Fatalf("matched %q with cursor %q, net/http reads %q", head, c.String(), got)
		}
	})
}

// servedNextPoll is head parsed as the handler's way parses a next poll,
// or nil when that way would give it to net/http (all but the route's own
// checks).
func servedNextPoll(head []byte) *http.Request {
	if i := bytes.Index(head, []byte("\r\n\r\n")); i < 0 || i+4 != len(head) || hostLines(head) != 1 {
		return nil
	}
	r, err := parseHead(head)
	if err != nil || !plainGet(r) {
		return nil
	}
	if _, ok := pollFingerprint(r); !ok {
		return nil
	}
	return r
}
