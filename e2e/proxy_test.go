package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// testProxy is an intermediary between the browser and the gateway, like a
// corporate proxy. Pass-through by default (WebSocket upgrades included),
// and it can cut every client connection at once (cut). With buffering set
// it refuses WebSocket upgrades and holds the body of streaming responses
// (SSE, NDJSON) until they end, sending only the headers: a proxy that
// buffers whole responses.
type testProxy struct {
	URL       string
	buffering bool
	target    *url.URL
	srv       *httptest.Server
	rp        *httputil.ReverseProxy
	transport *http.Transport

	mu        sync.Mutex
	blocked   bool   // answer every request 503, like a proxy whose upstream is down
	refused   string // answer requests whose path ends so 503 ("": none)
	refuseWS  bool   // refuse WebSocket upgrades (buffering does too)
	conns     map[net.Conn]struct{}
	wsRefused int            // WebSocket upgrades refused
	held      map[string]int // streaming responses held, by path suffix
	passFirst int            // buffering: bytes of a held stream passed at once (its padding)
	cutFirst  string         // cut responses whose path ends so after their first bytes ("": none)
	holdReqs  string         // hold requests whose path ends so until releaseHeld ("": none)
	gate      chan struct{}  // closed by releaseHeld
	holding   int            // requests held now
	paths     []string       // every request's path, in order
	failNext  string         // answer the next request whose path ends so failWith ("": none)
	failWith  int
}

func newTestProxy(t *testing.T, target string, buffering bool) *testProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{buffering: buffering, target: u, conns: map[net.Conn]struct{}{}, held: map[string]int{},
		transport: &http.Transport{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = r.In.Host },
		Transport:     p.transport,
		FlushInterval: -1,
	}
	p.srv = httptest.NewUnstartedServer(p)
	p.srv.Listener = &trackingListener{Listener: p.srv.Listener, p: p}
	p.srv.Start()
	p.URL = p.srv.URL
	t.Cleanup(func() {
		p.cut()
		p.srv.Close()
		p.transport.CloseIdleConnections()
	})
	return p
}

func (p *testProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	blocked, refuseWS := p.blocked || p.refused != "" && strings.HasSuffix(r.URL.Path, p.refused), p.refuseWS
	p.paths = append(p.paths, r.URL.Path)
	var gate chan struct{}
	if p.holdReqs != "" && strings.HasSuffix(r.URL.Path, p.holdReqs) {
		gate = p.gate
		p.holding++
	}
	cut := p.cutFirst != "" && strings.HasSuffix(r.URL.Path, p.cutFirst)
	passFirst := p.passFirst
	fail := 0
	if p.failNext != "" && strings.HasSuffix(r.URL.Path, p.failNext) {
		fail, p.failNext = p.failWith, ""
	}
	p.mu.Unlock()
	if fail != 0 {
		http.Error(w, "proxy: failed once", fail)
		return
	}
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
		}
		p.with(func() { p.holding-- })
	}
	if cut {
		p.cutAfterFirstBytes(w, r)
		return
	}
	if blocked {
		http.Error(w, "proxy: gateway unreachable", http.StatusServiceUnavailable)
		return
	}
	if (p.buffering || refuseWS) && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		p.with(func() { p.wsRefused++ })
		http.Error(w, "WebSocket is not allowed through this proxy", http.StatusForbidden)
		return
	}
	if p.buffering {
		if suffix := streamingSuffix(r); suffix != "" {
			p.hold(w, r, suffix, passFirst)
			return
		}
	}
	p.rp.ServeHTTP(w, r)
}

func streamingSuffix(r *http.Request) string {
	for _, s := range []string{"/sse", "/stream"} {
		if strings.HasSuffix(r.URL.Path, s) {
			return s
		}
	}
	return ""
}

// maxHeld bounds what hold keeps of one response.
const maxHeld = 4 << 20

// hold forwards the request, sends the answer's status and headers (and
// its first pass bytes) at once and keeps the rest of the body until the
// gateway ends it (or the client goes).
func (p *testProxy) hold(w http.ResponseWriter, r *http.Request, suffix string, pass int) {
	resp := p.forward(w, r)
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	p.with(func() { p.held[suffix]++ })
	if pass > 0 {
		if _, err := io.CopyN(w, resp.Body, int64(pass)); err != nil {
			return
		}
	}
	http.NewResponseController(w).Flush()
	var body bytes.Buffer
	if _, err := io.Copy(&body, io.LimitReader(resp.Body, maxHeld)); err != nil {
		return // the client went away while we held its stream
	}
	_, _ = w.Write(body.Bytes())
}

// forward sends the request to the gateway and writes the answer's status
// and headers; the caller copies the body (nil: the gateway could not be
// reached, answered 502).
func (p *testProxy) forward(w http.ResponseWriter, r *http.Request) *http.Response {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return nil
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	return resp
}

// with runs f holding the proxy's lock (the knobs below).
func (p *testProxy) with(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

// cutAfterFirstBytes forwards the request, passes the answer's head and
// the first bytes of its body, then closes the client's connection: a
// proxy that lets a stream start and cuts it at once.
func (p *testProxy) cutAfterFirstBytes(w http.ResponseWriter, r *http.Request) {
	resp := p.forward(w, r)
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	buf := make([]byte, 64<<10)
	if n, _ := resp.Body.Read(buf); n > 0 {
		_, _ = w.Write(buf[:n])
	}
	http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler) // closes the client's connection
}

// passPadding makes a buffering proxy pass the first n bytes of each
// stream it holds (the padding a stream starts with) at once.
func (p *testProxy) passPadding(n int) { p.with(func() { p.passFirst = n }) }

// failOnce makes the proxy answer the next request whose path ends with
// suffix with status (a 504 for a held poll: a proxy whose timeout is
// shorter than poll_timeout).
func (p *testProxy) failOnce(suffix string, status int) {
	p.with(func() { p.failNext, p.failWith = suffix, status })
}

// cutAtOnce makes the proxy cut every response whose path ends with
// suffix right after its first bytes ("": none).
func (p *testProxy) cutAtOnce(suffix string) { p.with(func() { p.cutFirst = suffix }) }

// holdRequests makes requests whose path ends with suffix wait in the
// proxy until releaseHeld; holdingNow reports how many wait now.
func (p *testProxy) holdRequests(suffix string) {
	p.with(func() { p.holdReqs, p.gate = suffix, make(chan struct{}) })
}

func (p *testProxy) releaseHeld() {
	p.with(func() {
		if p.gate != nil {
			close(p.gate)
		}
		p.holdReqs, p.gate = "", nil
	})
}

func (p *testProxy) holdingNow() (n int) {
	p.with(func() { n = p.holding })
	return n
}

// requestsTo counts the requests the proxy got for path.
func (p *testProxy) requestsTo(path string) (n int) {
	p.with(func() {
		for _, got := range p.paths {
			if got == path {
				n++
			}
		}
	})
	return n
}

// block makes the proxy answer 503 to everything (true) or pass again.
func (p *testProxy) block(on bool) { p.with(func() { p.blocked = on }) }

// refusePath makes the proxy answer 503 to requests whose path ends with
// suffix ("": none), as block does to all.
func (p *testProxy) refusePath(suffix string) { p.with(func() { p.refused = suffix }) }

// refuseWebSocket makes the proxy refuse WebSocket handshakes (403).
func (p *testProxy) refuseWebSocket() { p.with(func() { p.refuseWS = true }) }

// cut closes every client connection, hijacked WebSockets included.
func (p *testProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// counts returns refused upgrades and held streams.
func (p *testProxy) counts() (refused int, held map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	held = map[string]int{}
	for k, v := range p.held {
		held[k] = v
	}
	return p.wsRefused, held
}

type trackingListener struct {
	net.Listener
	p *testProxy
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.p.mu.Lock()
	l.p.conns[c] = struct{}{}
	l.p.mu.Unlock()
	return &trackedConn{Conn: c, p: l.p}, nil
}

type trackedConn struct {
	net.Conn
	p *testProxy
}

func (c *trackedConn) Close() error {
	c.p.mu.Lock()
	delete(c.p.conns, c.Conn)
	c.p.mu.Unlock()
	return c.Conn.Close()
}
