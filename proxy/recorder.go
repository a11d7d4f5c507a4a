package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
)

// recorder wraps the ResponseWriter to learn the status and byte count of a
// response for metrics and the access log. It keeps Flush and Hijack working
// (SSE streaming, WebSocket tunnels) and counts the bytes of hijacked
// connections too.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	// tunnelBytes counts writes to the hijacked connection (atomic: tunnels
	// write from copier goroutines). A separate object on purpose: the
	// connection outlives the handler (broadcast subscribers served without
	// it), and a pointer into the recorder would keep net/http's response and
	// its 8 KiB of bufio buffers alive for as long as the client stays.
	tunnelBytes *atomic.Int64
	hijacked    bool
	// guard, when set, stops watching the connection's bytes once it is
	// hijacked (tunnels are not HTTP).
	guard *wireGuard
	// outlive is set when the handler serves the hijacked connection past
	// its return (OutliveHandler, outlive.go).
	outlive *outliving
	// hsts, when set, is the Strict-Transport-Security of every answer
	// (TLS listener with tls.hsts).
	hsts string
}

var (
	_ http.Flusher  = (*recorder)(nil)
	_ http.Hijacker = (*recorder)(nil)
)

// setHSTS puts the gateway's Strict-Transport-Security on the answer just
// before its head goes out, replacing one an upstream sent.
func (r *recorder) setHSTS() {
	if r.hsts != "" && r.status == 0 {
		r.Header().Set("Strict-Transport-Security", r.hsts)
	}
}

func (r *recorder) WriteHeader(code int) {
	if code >= 200 {
		r.setHSTS()
	}
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	if r.status == 0 && code == http.StatusSwitchingProtocols {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.setHSTS()
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	_ = r.FlushError()
}

func (r *recorder) FlushError() error {
	r.setHSTS()
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	r.hijacked = true
	if r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	if r.guard != nil {
		r.guard.off.Store(true)
	}
	r.tunnelBytes = new(atomic.Int64)
	return &countingConn{Conn: conn, written: r.tunnelBytes}, brw, nil
}

// Unwrap lets http.ResponseController reach deadlines and the like.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// statusCode is what the access log and metrics report. A handler that wrote
// nothing answered 200 as far as net/http is concerned.
func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// countingConn counts bytes written to a hijacked connection.
type countingConn struct {
	net.Conn
	written *atomic.Int64
}

// NetConn exposes the wrapped connection (see limitedConn.NetConn). Bytes
// written past this wrapper are counted by the bridge's own metrics.
func (c *countingConn) NetConn() net.Conn { return c.Conn }

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written.Add(int64(n))
	return n, err
}

func (c *countingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("proxy: connection cannot half-close")
}
