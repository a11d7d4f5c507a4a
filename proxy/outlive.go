package proxy

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// outliving is the state of a request whose hijacked connection a handler
// keeps serving after it returned (the bridge's broadcast streams and
// WebSockets). Its access line and its active-connections count end when
// both the handler returned and the handler's done func was called,
// whichever comes last. A separate object on purpose: it must not keep the
// recorder (and net/http's response with its buffers) alive.
type outliving struct {
	mu          sync.Mutex
	connDone    bool
	handlerDone bool
	end         func() // set when the handler returned
}

// OutliveHandler is for a handler that hijacked the connection and goes on
// serving it from another goroutine: call the returned func once the
// connection is finished. Calling it more than once is harmless.
func (r *recorder) OutliveHandler() func() {
	if r.outlive == nil {
		r.outlive = &outliving{}
	}
	o := r.outlive
	return func() {
		o.mu.Lock()
		if o.connDone {
			o.mu.Unlock()
			return
		}
		o.connDone = true
		end := o.end
		o.mu.Unlock()
		if end != nil {
			end()
		}
	}
}

// deferEnd runs end now, unless the handler asked to outlive itself and its
// connection is still being served: then end runs when that ends.
func (r *recorder) deferEnd(end func()) {
	o := r.outlive
	if o == nil {
		end()
		return
	}
	o.mu.Lock()
	o.handlerDone = true
	if o.connDone {
		o.mu.Unlock()
		end()
		return
	}
	o.end = end
	o.mu.Unlock()
}

// detached is what a request served past its handler keeps until its
// connection ends: one small object, no request, headers or recorder.
type detached struct {
	s     *Server
	line  accessLine
	route string
	kind  string
	start time.Time
	gauge prometheus.Gauge
}

// detachedEnd returns the end of such a request: count and log it, and
// let go of its active-connections gauge.
func (s *Server) detachedEnd(line accessLine, route, kind string, start time.Time, gauge prometheus.Gauge) func() {
	d := &detached{s: s, line: line, route: route, kind: kind, start: start, gauge: gauge}
	return d.end
}

func (d *detached) end() {
	d.s.finishLine(&d.line, d.route, d.kind, d.start)
	if d.gauge != nil {
		d.gauge.Dec()
	}
}
