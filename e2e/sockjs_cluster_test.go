package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/bridgeway/bridgeway/internal/redistest"
)

// alternatingProxy is a load balancer without stickiness: each request
// goes to the next backend in turn, whatever session it belongs to.
type alternatingProxy struct {
	srv *httptest.Server

	mu   sync.Mutex
	next int
	hits []int // requests sent to each backend
}

func newAlternatingProxy(t *testing.T, backends ...string) *alternatingProxy {
	t.Helper()
	p := &alternatingProxy{hits: make([]int, len(backends))}
	targets := make([]*url.URL, len(backends))
	for i, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = u
	}
	transport := &http.Transport{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			p.mu.Lock()
			i := p.next
			p.next = (p.next + 1) % len(targets)
			p.hits[i]++
			p.mu.Unlock()
			r.SetURL(targets[i])
			r.Out.Host = r.In.Host
		},
		Transport:     transport,
		FlushInterval: -1,
	}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(func() {
		p.srv.CloseClientConnections()
		p.srv.Close()
		transport.CloseIdleConnections()
	})
	return p
}

func (p *alternatingProxy) counts() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.hits...)
}

// TestSockJSClientAcrossTwoInstances: two gateway instances on one real
// redis-server behind a load balancer that sends each request to the other
// instance, no sticky sessions. sockjs-client on its polling and streaming
// transports (each receiving request and each send on the instance the
// previous one did not reach; a 4 KiB response limit makes the streams end
// and reopen often) gets the app's 1,000 messages and 200 echoes once and
// in order.
func TestSockJSClientAcrossTwoInstances(t *testing.T) {
	redis := redistest.Start(t)
	app := newAppServer(t)
	page := newSockJSPageServer(t)
	yaml := strings.NewReplacer("REDIS", "redis://"+redis+"/0", "APP", app.URL(), "PAGE", page.URL).Replace(`
cluster: {redis: "REDIS"}
routes:
  - path: /sjs
    upstream: {url: "APP/sj"}
    origins: ["PAGE"]
    sockjs: {response_limit: 4KiB}
`)
	a, b := assembleGateway(t, yaml, t.Name()+"-a"), assembleGateway(t, yaml, t.Name()+"-b")
	lb := newAlternatingProxy(t, "http://"+a, "http://"+b)
	for _, transport := range []string{"xhr-polling", "xhr-streaming", "jsonp-polling", "eventsource"} {
		t.Run(transport, func(t *testing.T) {
			before := lb.counts()
			sockjsExchange(t, openPinned(t, page, lb.srv.URL+"/sjs", transport), 1000, 200)
			after := lb.counts()
			if after[0]-before[0] < 2 || after[1]-before[1] < 2 {
				t.Errorf("requests per instance %v → %v: the session did not move between them", before, after)
			}
			t.Logf("requests per instance: %d and %d", after[0]-before[0], after[1]-before[1])
		})
	}
	if got := app.Accepted("/sj"); got != 4 {
		t.Errorf("the app saw %d upstream connections, want one per session (4)", got)
	}
}
