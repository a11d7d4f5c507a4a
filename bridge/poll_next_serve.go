package bridge

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// serveNextPoll serves a next poll read by the bridge (poll_next.go) on
// the route's handler, as net/http would have, through a nextWriter: it
// normally parks (the writer's Hijack hands over the connection); should
// the log have moved meanwhile, the writer writes the answer as net/http
// does and the connection goes back to the server. The server records the
// request either way (access log, request metrics).
func (h *RouteHandler) serveNextPoll(p *parkedPoll, r *http.Request, start time.Time) {
	w := &nextWriter{conn: p.conn, fp: p.fp, next: p.next}
	h.ServeHTTP(w, r)
	if w.hijacked {
		nextPollsParked.Add(1)
		p.again.Served(r, w.statusCode(), 0, start)
		return
	}
	n, keep := w.respond()
	p.again.Served(r, w.statusCode(), n, start)
	p.release()
	if keep {
		p.back(p.conn)
	} else {
		_ = p.conn.Close()
	}
}

// nextPollsParked counts the polls read by the bridge that parked again
// (tests), nextPollsRaw those of them matched by their bytes.
var nextPollsParked, nextPollsRaw atomic.Int64

// nextWriter is the http.ResponseWriter of a poll read by the bridge: the
// parked poll hijacks it; any other answer is buffered and written by
// respond.
type nextWriter struct {
	conn     net.Conn
	hdr      http.Header
	status   int
	body     []byte
	hijacked bool
	fp       uint64    // the request's fingerprint (poll_next_match.go)
	next     *nextConn // the connection's waiter, kept by the next park
}

var (
	_ http.Hijacker = (*nextWriter)(nil)
	// noBuffered is what Hijack returns as the connection's buffer:
	// nothing was read past the request (a shared, never-read reader).
	noBuffered = bufio.NewReadWriter(bufio.NewReaderSize(strings.NewReader(""), 16), nil)
)

func (w *nextWriter) Header() http.Header {
	if w.hdr == nil {
		w.hdr = http.Header{}
	}
	return w.hdr
}

func (w *nextWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *nextWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}

func (w *nextWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.conn, noBuffered, nil
}

// MarkHijackedStatus is reenter.MarkStatus's: the parked poll's 200.
func (w *nextWriter) MarkHijackedStatus(code int) { w.WriteHeader(code) }

func (w *nextWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// respond writes the buffered answer as net/http writes a handler's answer
// that set its Content-Length (every bridge answer does; one that did not
// gets it here): status line, header lines sorted, Date. It returns the
// body's length and whether the connection may carry another request.
func (w *nextWriter) respond() (int64, bool) {
	hdr := w.Header()
	if hdr.Get("Content-Length") == "" {
		hdr.Set("Content-Length", strconv.Itoa(len(w.body)))
	}
	code := w.statusCode()
	b := getPollBuffer(len(w.body) + 512)
	defer putPollBuffer(b)
	out := append((*b)[:0], "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(code)...)
	out = append(out, "\r\n"...)
	out = appendHeader(out, hdr)
	out = append(out, "Date: "...)
	out = appendDate(out)
	out = append(out, "\r\n\r\n"...)
	out = append(out, w.body...)
	*b = out
	_ = w.conn.SetWriteDeadline(time.Now().Add(writeWait))
	_, err := w.conn.Write(out)
	_ = w.conn.SetWriteDeadline(time.Time{})
	return int64(len(w.body)), err == nil && !strings.EqualFold(hdr.Get("Connection"), "close")
}
