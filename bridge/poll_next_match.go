package bridge

import (
	"bufio"
	"bytes"
	"context"
	"hash/maphash"
	"net/http"
	"strings"
	"sync"

	"github.com/bridgeway/bridgeway/bridge/wire"
	"github.com/bridgeway/bridgeway/internal/reenter"
)

// What a parked poll's connection may send next to be served without
// net/http: one whole request head, nothing after it (pipelining goes to
// net/http), parsed by net/http's own parser, a plain HTTP/1.1 GET without
// a body or a framing header, keep-alive, and the same request as the poll
// just answered but for its cursor: same host, path, query and header
// lines (credentials, origin, forwarded headers), so every check the proxy
// and the route made on the parked poll holds for it too. Its cursor must
// be the end of the topic's log, so that it parks again. Anything else goes
// back to net/http with the bytes read in front of the connection
// (reenter.Prefixed), and net/http answers it as it always did.

// pollSeed keys the fingerprints (unguessable, so no crafted request
// matches another's).
var pollSeed = maphash.MakeSeed()

// pollFingerprint hashes what a next poll must repeat: all of r but its
// cursor and its body. ok is false for a request with no cursor or more
// than one (never served here).
func pollFingerprint(r *http.Request) (fp uint64, ok bool) {
	var h maphash.Hash
	h.SetSeed(pollSeed)
	h.WriteString(r.Method)
	h.WriteByte(0)
	h.WriteString(r.Proto)
	h.WriteByte(0)
	h.WriteString(r.Host)
	h.WriteByte(0)
	h.WriteString(r.URL.Scheme)
	h.WriteByte(0)
	h.WriteString(r.URL.Host)
	h.WriteByte(0)
	h.WriteString(r.URL.EscapedPath())
	h.WriteByte(0)
	cursors := 0
	for raw := r.URL.RawQuery; raw != ""; {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if k, _, _ := strings.Cut(pair, "="); queryKeyIs(k, "cursor") {
			cursors++
			continue
		}
		h.WriteString(pair)
		h.WriteByte('&')
	}
	fp = h.Sum64()
	// Header lines in any order: a sum of one hash per name.
	for k, vs := range r.Header {
		h.Reset()
		h.WriteString(k)
		for _, v := range vs {
			h.WriteByte(0)
			h.WriteString(v)
		}
		fp += h.Sum64()
	}
	return fp, cursors == 1
}

// nextReaders parse a head read here with net/http's parser.
var nextReaders = sync.Pool{New: func() any {
	br := &nextReader{}
	br.br = bufio.NewReaderSize(&br.src, nextReadSize)
	return br
}}

type nextReader struct {
	src bytes.Reader
	br  *bufio.Reader
}

// nextPoll parses head, the bytes read from p's socket: the next poll to
// serve here, or nil (give the connection back with them).
func (h *RouteHandler) nextPoll(p *parkedPoll, head []byte) *http.Request {
	end := bytes.Index(head, []byte("\r\n\r\n"))
	if end < 0 || end+4 != len(head) {
		return nil // not whole yet, too long, or pipelined
	}
	r, err := parseHead(head)
	if err != nil || hostLines(head) != 1 || !h.isNextPoll(p, r) {
		return nil
	}
	return p.requestFor(r)
}

// parseHead parses one whole request head with net/http's parser.
func parseHead(head []byte) (*http.Request, error) {
	nr := nextReaders.Get().(*nextReader)
	nr.src.Reset(head)
	nr.br.Reset(&nr.src)
	r, err := http.ReadRequest(nr.br)
	nr.br.Reset(nil)
	nextReaders.Put(nr)
	return r, err
}

// requestFor gives r, read on p's connection, what the server's context
// gives its requests: the way back, Again, and (by Resolve) the client's
// address and host.
func (p *parkedPoll) requestFor(r *http.Request) *http.Request {
	r.RemoteAddr = p.conn.RemoteAddr().String()
	ctx := reenter.WithAgain(reenter.WithFunc(context.Background(), p.back), p.again)
	return p.again.Resolve(r.WithContext(ctx))
}

// isNextPoll reports whether r (parsed by http.ReadRequest, not yet by the
// server's checks) is p's client asking for its next poll.
func (h *RouteHandler) isNextPoll(p *parkedPoll, r *http.Request) bool {
	if !plainGet(r) {
		return false
	}
	if fp, ok := pollFingerprint(r); !ok || fp != p.fp {
		return false
	}
	c, err := wire.ParseCursor(parsePollQuery(r.URL.RawQuery).cursor)
	if err != nil {
		return false
	}
	_, last := p.a.log().Bounds()
	if c.Seq != last || h.ending.Load() {
		return false
	}
	route, _ := p.again.Route(r.URL.Path).(*RouteHandler)
	return route == h
}

// plainGet reports whether r is an HTTP/1.1 keep-alive GET without a body
// or a framing header.
func plainGet(r *http.Request) bool {
	return r.Method == http.MethodGet && r.ProtoMajor == 1 && r.ProtoMinor == 1 && !r.Close &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0 &&
		len(r.Header["Content-Length"]) == 0 && len(r.Header["Transfer-Encoding"]) == 0
}

// hostLines counts the Host lines of a head, which http.ReadRequest folds
// into one Host (the server answers 400 to more than one).
func hostLines(head []byte) int {
	n := 0
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(head, []byte("\r\n"))
		if len(line) >= 5 && bytes.EqualFold(line[:5], []byte("host:")) {
			n++
		}
		head = rest
	}
	return n
}
