package bridge

import (
	"net"
	"net/http"
)

// outliveHandler tells the host that this request's hijacked connection
// is served on after the handler returns (broadcast streams, WebSockets),
// so the host's access line and active-connection gauge end when done is
// called instead of at the hand-over. The proxy's response recorder offers
// it; under any other host done does nothing.
func outliveHandler(w http.ResponseWriter) (done func()) {
	for {
		if o, ok := w.(interface{ OutliveHandler() func() }); ok {
			return o.OutliveHandler()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return func() {}
		}
		w = u.Unwrap()
	}
}

// writtenCounter is the host's byte count of a hijacked connection, for
// bytes the fan-out writes straight to the socket beneath it.
type writtenCounter interface{ AddWritten(n int64) }

func counterOf(c net.Conn) writtenCounter {
	wc, _ := c.(writtenCounter)
	return wc
}

// countRaw adds n bytes written under the host's wrapper.
func (o *rawOut) countRaw(n int) {
	if o.counter != nil && n > 0 {
		o.counter.AddWritten(int64(n))
	}
}
