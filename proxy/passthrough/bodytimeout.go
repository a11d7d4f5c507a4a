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
// client_body_timeout: the wait is between two reads, not for the whole
// body, so a large upload at any steady rate goes through while a client
// that trickles nothing holds its connection (and the upstream's) for at
// most wait. A read past the deadline fails; the transport then abandons
// the upstream request, and the handler answers 408 body_timeout.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	wait time.Duration
	by   time.Time // the read deadline last set (only Read touches it)
	cut  atomic.Bool
}

// bodyKey carries the request's *idleBody to the error handler.
type bodyKey struct{}

// guardBody wraps r's body when it has one (a GET usually does not). It
// changes r.Body: call it on the handler's own copy of the request.
func guardBody(w http.ResponseWriter, r *http.Request, wait time.Duration) *idleBody {
	if wait <= 0 || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
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

func (b *idleBody) Read(p []byte) (int, error) {
	// Moved in steps of wait/16: each change of a socket's deadline
	// re-arms a runtime timer, and a bound 1/16 shorter is the same bound.
	if want := time.Now().Add(b.wait); want.Sub(b.by) >= b.wait/16 {
		b.by = want
		_ = b.rc.SetReadDeadline(want)
	}
	n, err := b.ReadCloser.Read(p)
	var ne net.Error
	switch {
	case err == io.EOF:
		// net/http reads the connection itself from here on (the next
		// request, or noticing the client leave): no deadline of ours.
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.As(err, &ne) && ne.Timeout():
		b.cut.Store(true)
	}
	return n, err
}
