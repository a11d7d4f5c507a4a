package hardening

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestSessionCapHoldsUnderConcurrentOpens: the route's session cap
// (limits.max_connections, 40 here) counts sessions whose upstream dial is
// still in flight. With 30 sessions open, 20 concurrent opens all waiting
// on a slow upstream handshake: exactly 10 reach the upstream, 10 get 503
// too_many_sessions at once, and 40 sessions exist in the end (was: every
// open passed the check before any dial finished, cap 20 ended with 32).
func TestSessionCapHoldsUnderConcurrentOpens(t *testing.T) {
	const limit, first, burst = 40, 30, 20
	app := newGatedWSApp(t)
	g := startGateway(t, "limits: {max_connections: 40}\nroutes:\n  - path: /s\n    session_ttl: 20s\n"+
		"    upstream: {url: \""+app.wsURL()+"\"}\n")
	k := dialFrom(t, g, "127.0.0.1")
	for i := range first {
		if a := k.get(t, "/s/poll"); a.status != 200 {
			t.Fatalf("session %d: %d %s", i, a.status, a.body)
		}
	}
	app.hold.Store(true)
	var refused atomic.Int64
	var wg sync.WaitGroup
	codes := make(chan int, burst)
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := get(t, g.URL+"/s/poll", nil)
			if a.status == 503 && a.errorCode() == "too_many_sessions" {
				refused.Add(1)
			}
			codes <- a.status
		}()
	}
	// Every open is either waiting at the upstream or refused.
	eventually(t, "every concurrent open to be held or refused", func() bool {
		return app.held.Load()+refused.Load() == burst
	})
	held := app.held.Load()
	app.release()
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		if c == 200 {
			ok++
		}
	}
	if held != limit-first || ok != limit-first || refused.Load() != burst-(limit-first) {
		t.Errorf("%d opens reached the upstream, %d opened, %d refused; want %d, %d, %d",
			held, ok, refused.Load(), limit-first, limit-first, burst-(limit-first))
	}
	if n := g.metric("bridgeway_bridge_sessions_open"); n != limit {
		t.Errorf("%v sessions open, cap %d", n, limit)
	}
	eventually(t, "the admitted sessions' upstreams", func() bool { return app.accepted.Load() >= limit })
	if n := app.accepted.Load(); n != limit {
		t.Errorf("%d upstream connections, cap %d", n, limit)
	}
}
