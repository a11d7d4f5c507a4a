package passthrough

import (
	"net/http"
	"time"
)

// sendGuard cuts a client that takes nothing of a response for wait, like
// nginx's send_timeout: each write and flush of the response must get
// through within wait, so a slow reader at any steady rate is served while
// one that reads nothing holds its connection and the upstream response
// for at most wait. The deadline is on the connection only while a write
// is under way: between writes (an SSE stream waiting for its upstream) and
// after the handler (net/http ending the response) it is not set. A write
// past it fails; ReverseProxy then aborts the response, which closes the
// client connection and the upstream response.
type sendGuard struct {
	http.ResponseWriter
	rc   *http.ResponseController
	wait time.Duration
}

// guardSend wraps w when wait is set (0: writes may block for ever).
func guardSend(w http.ResponseWriter, wait time.Duration) http.ResponseWriter {
	if wait <= 0 {
		return w
	}
	return &sendGuard{ResponseWriter: w, rc: http.NewResponseController(w), wait: wait}
}

func (g *sendGuard) Write(p []byte) (int, error) {
	_ = g.rc.SetWriteDeadline(time.Now().Add(g.wait))
	n, err := g.ResponseWriter.Write(p)
	g.clear(err)
	return n, err
}

func (g *sendGuard) FlushError() error {
	_ = g.rc.SetWriteDeadline(time.Now().Add(g.wait))
	err := g.rc.Flush()
	g.clear(err)
	return err
}

func (g *sendGuard) Flush() { _ = g.FlushError() }

// clear lifts the deadline after a write that got through; after a failed
// one the connection is going away anyway.
func (g *sendGuard) clear(err error) {
	if err == nil {
		_ = g.rc.SetWriteDeadline(time.Time{})
	}
}

// Unwrap lets http.ResponseController reach the connection below.
func (g *sendGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }
