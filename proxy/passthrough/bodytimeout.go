package passthrough

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// idleBody cuts a request body that stops arriving, like nginx's
// client_body_timeout: each read of the client's body must get something
// within wait, so a large upload at any steady rate goes through while a
// client that trickles nothing holds its connection (and the upstream's)
// for at most wait. The deadline is on the connection only while a read
// waits: between reads (the upstream taking its time) and after the body
// (net/http reading the next request, a response streaming for long) it is
// not ours to set. A read past the deadline fails; the transport then
// abandons the upstream request, and the handler answers 408 body_timeout.
//
// It also remembers a body the client broke (bad chunking, cut short), so
// the failed upstream request is answered as the client's fault.
type idleBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	wait   time.Duration
	cut    atomic.Bool
	broken atomic.Bool
	// eof is sticky: once the body ended, later reads answer io.EOF
	// without touching the server's body, which net/http may already have
	// closed after the response headers went out. The transport makes one
	// such read after a Content-Length body to check for extra bytes; an
	// "invalid Read on closed Body" there fails the upstream request and
	// cuts a response that was streaming fine.
	eof atomic.Bool
}

// bodyKey carries the request's *idleBody to the error handler.
type bodyKey struct{}

// guardBody wraps r's body when it has one (a GET usually does not). It
// changes r.Body: call it on the handler's own copy of the request.
func guardBody(w http.ResponseWriter, r *http.Request, wait time.Duration) *idleBody {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	b := &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), wait: wait}
	r.Body = b
	return b
}

// bodyCut reports whether r's body was cut for arriving too slowly.
func bodyCut(r *http.Request) bool {
	b, _ := r.Context().Value(bodyKey{}).(*idleBody)
	return b != nil && b.cut.Load()
}

// bodyBroken reports whether reading r's body from the client failed.
func bodyBroken(r *http.Request) bool {
	b, _ := r.Context().Value(bodyKey{}).(*idleBody)
	return b != nil && b.broken.Load()
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.eof.Load() {
		return 0, io.EOF
	}
	if b.wait > 0 {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.wait))
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof.Store(true)
	}
	if err != nil && err != io.EOF {
		b.broken.Store(true)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			b.cut.Store(true)
			return n, err // the connection is closing: its deadline may stay
		}
	}
	if b.wait > 0 {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
