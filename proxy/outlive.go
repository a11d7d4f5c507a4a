package proxy

import (
	"net/http"
	"net/url"
	"sync"
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

// detached copies what the access log and metrics need from a finished
// handler's request and recorder, without holding on to net/http's state.
func (r *recorder) detached(req *http.Request) (*http.Request, *recorder) {
	rq := &http.Request{
		Method:     req.Method,
		URL:        &url.URL{Path: req.URL.Path, RawQuery: req.URL.RawQuery},
		Proto:      req.Proto,
		RemoteAddr: req.RemoteAddr,
		Header:     http.Header{},
	}
	if ua := req.UserAgent(); ua != "" {
		rq.Header.Set("User-Agent", ua)
	}
	return rq, &recorder{status: r.status, bytes: r.bytes, tunnelBytes: r.tunnelBytes}
}
