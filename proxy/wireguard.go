package proxy

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/bridgeway/bridgeway/internal/jsonerr"
)

// wireGuard watches the plaintext bytes of a plain-listener connection for
// what net/http hides from handlers: a request head carrying both
// Content-Length and Transfer-Encoding. net/http follows RFC 9112 (drops
// Content-Length, reads chunked), which is safe, but such a request is a
// smuggling attempt and bridgeway refuses it with 400 before any upstream
// sees it.
//
// The scan is line based and keeps a few bytes of state per connection.
// A body that contains text shaped like a request head with both headers
// taints the connection too; only chunked requests on a tainted connection
// are refused, so legitimate traffic is not affected.
type wireGuard struct {
	prefix    [24]byte // first bytes of the current line
	prefixLen int
	lineLen   int
	tail      uint64 // last 8 bytes of the current line, CR excluded
	inHead    bool
	sawCL     bool
	sawTE     bool
	tainted   atomic.Bool
	teSeen    atomic.Bool // a head on this connection carried Transfer-Encoding
	off       atomic.Bool // set after a hijack: tunnels are not HTTP
}

// scan is called from the connection's single reader goroutine.
func (g *wireGuard) scan(b []byte) {
	if g.off.Load() {
		return
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		g.feed(seg)
		if i < 0 {
			return
		}
		g.endLine()
		b = b[i+1:]
	}
}

// feed takes part of a line (no LF). Only the first bytes and the last 8
// non-CR bytes of a line matter, so long lines and bodies cost little more
// than the LF search.
func (g *wireGuard) feed(seg []byte) {
	if len(seg) <= 32 {
		for _, c := range seg {
			if c == '\r' {
				continue
			}
			if g.prefixLen < len(g.prefix) {
				g.prefix[g.prefixLen] = c
				g.prefixLen++
			}
			g.tail = g.tail<<8 | uint64(c)
			g.lineLen++
		}
		return
	}
	for _, c := range seg[:min(len(seg), len(g.prefix)-g.prefixLen)] {
		if c != '\r' {
			g.prefix[g.prefixLen] = c
			g.prefixLen++
		}
	}
	// The last 8 non-CR bytes, found from the end, shifted in in order.
	start, kept := len(seg), 0
	for start > 0 && kept < 8 {
		start--
		if seg[start] != '\r' {
			kept++
		}
	}
	for _, c := range seg[start:] {
		if c != '\r' {
			g.tail = g.tail<<8 | uint64(c)
		}
	}
	g.lineLen += len(seg) - bytes.Count(seg, []byte{'\r'})
}

var (
	tailHTTP10 = packTail("HTTP/1.0")
	tailHTTP11 = packTail("HTTP/1.1")
)

func packTail(s string) uint64 {
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v<<8 | uint64(s[i])
	}
	return v
}

func (g *wireGuard) endLine() {
	line := g.prefix[:g.prefixLen]
	switch {
	case g.lineLen == 0:
		if g.inHead && g.sawCL && g.sawTE {
			g.tainted.Store(true)
		}
		g.inHead = false
	case (g.tail == tailHTTP11 || g.tail == tailHTTP10) && looksLikeMethod(line):
		g.inHead, g.sawCL, g.sawTE = true, false, false
	case g.inHead:
		if hasPrefixFold(line, "content-length:") {
			g.sawCL = true
		} else if hasPrefixFold(line, "transfer-encoding:") {
			g.sawTE = true
			g.teSeen.Store(true)
		}
	}
	g.prefixLen, g.lineLen, g.tail = 0, 0, 0
}

// hasPrefixFold is a case-insensitive bytes.HasPrefix for an ASCII
// lower-case prefix, without allocating (it runs on every header line).
func hasPrefixFold(line []byte, prefix string) bool {
	return len(line) >= len(prefix) && strings.EqualFold(string(line[:len(prefix)]), prefix)
}

// looksLikeMethod reports whether line starts with an upper-case token and a space.
func looksLikeMethod(line []byte) bool {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return false
	}
	for _, c := range line[:sp] {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// read reads from c into b and scans what came; a nil guard only reads.
// The Read of both guarded connections (limitedConn, tlsHTTP1Conn).
func (g *wireGuard) read(c net.Conn, b []byte) (int, error) {
	n, err := c.Read(b)
	if g != nil && n > 0 {
		g.scan(b[:n])
	}
	return n, err
}

// write writes b to c, swapping net/http's own plain-text error answers for
// JSON ones. After a hijack the bytes are a tunnel's, not net/http's: they
// pass untouched. A nil guard only writes. The Write of both guarded
// connections.
func (g *wireGuard) write(c net.Conn, b []byte) (int, error) {
	if g != nil && !g.off.Load() {
		if replacement, ok := jsonForCannedError(b); ok {
			if _, err := c.Write(replacement); err != nil {
				return 0, err
			}
			return len(b), nil
		}
	}
	return c.Write(b)
}

// ambiguousLength reports whether r must be refused: a chunked request on a
// connection where a head with both length headers was seen, or an
// HTTP/1.0 request on a connection where Transfer-Encoding was seen
// (net/http drops the header of HTTP/1.0 requests and frames them by
// Content-Length; RFC 9112 section 6.1 calls such framing faulty).
func (g *wireGuard) ambiguousLength(r *http.Request) bool {
	if g == nil {
		return false
	}
	if len(r.TransferEncoding) > 0 && g.tainted.Load() {
		return true
	}
	return !r.ProtoAtLeast(1, 1) && g.teSeen.Load()
}

// netHTTPErrorHeaders is what net/http writes after the status line of the
// errors it answers itself before any handler runs (bad request line,
// headers too large, ...).
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// jsonForCannedError recognises one of net/http's own plain-text error
// answers (written in a single Write straight to the connection) and returns
// the same status with a JSON body instead. A handler's response never
// matches: it carries a Date header and its body is not its status line.
func jsonForCannedError(b []byte) ([]byte, bool) {
	const statusPrefix = "HTTP/1.1 "
	// Only 4xx/5xx answers can be net/http's canned errors: a quick look
	// at the status's first digit spares every normal response the search.
	if len(b) <= len(statusPrefix) || (b[len(statusPrefix)] != '4' && b[len(statusPrefix)] != '5') ||
		!bytes.HasPrefix(b, []byte(statusPrefix)) {
		return nil, false
	}
	idx := bytes.Index(b, []byte(netHTTPErrorHeaders))
	if idx < len(statusPrefix)+3 {
		return nil, false
	}
	statusText := b[len(statusPrefix):idx]
	body := b[idx+len(netHTTPErrorHeaders):]
	code, err := strconv.Atoi(string(statusText[:3]))
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	message := string(body)
	if !bytes.Equal(body, statusText) && message != "Unsupported transfer encoding" {
		return nil, false
	}
	if code == http.StatusNotImplemented {
		return jsonerr.Response(code, "not_implemented", "unsupported transfer encoding", ""), true
	}
	if code == http.StatusRequestHeaderFieldsTooLarge {
		return jsonerr.Response(code, "header_too_large", "request headers are larger than max_header_bytes", ""), true
	}
	return jsonerr.Response(code, "bad_request", "malformed request: "+strings.TrimSpace(string(statusText[3:])), ""), true
}
