package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// TestSockJSRouteCloseEndsIdleSessions: closing a route (a reload that
// replaces it, shutdown) ends its SockJS sessions at once, an idle one and
// one whose receiving request the close answers, instead of leaving
// disconnect timers armed: the route holds none afterwards, and their
// max_sessions_per_ip slots (broadcast) are free for the route that
// replaced it (before: taken until disconnect_delay, an hour here).
func TestSockJSRouteCloseEndsIdleSessions(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/feed", up.url("/feed"))
	r.Mode = config.ModeBroadcast
	r.SockJS.DisconnectDelay = config.Duration(time.Hour)
	b := bridge.New(bridge.Deps{Logger: zap.NewNop(), Registry: prometheus.NewRegistry(),
		Limits: config.Limits{MaxSessionsPerIP: 2}})
	serve := func() (*bridge.RouteHandler, string) {
		rh, err := b.NewRoute(r)
		if err != nil {
			t.Fatal(err)
		}
		return rh, newServer(t, rh).URL + r.Path
	}
	old, oldURL := serve()
	idle, held := newSID(), newSID()
	exchange(t, "open idle on the old route", "POST", oldURL+"/000/"+idle+"/xhr", "", nil, 200, "o\n")
	exchange(t, "open held on the old route", "POST", oldURL+"/000/"+held+"/xhr", "", nil, 200, "o\n")
	holdPoll(t, oldURL+"/000/"+held+"/xhr", nil)
	waitFor(t, "the held poll", func() bool { return bridge.SockJSReceiving(old, held) })
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := old.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := bridge.SockJSSessions(old); n != 0 {
		t.Fatalf("the closed route holds %d SockJS sessions, want 0", n)
	}
	_, newURL := serve()
	for range 2 {
		exchange(t, "open on the route that replaced it", "POST", newURL+"/000/"+newSID()+"/xhr", "", nil, 200, "o\n")
	}
}

// TestSockJSRouteCloseTimedOutKeepsNoTimer: a Close whose wait ran out
// (ctx done) while a receiving request was still being answered: that
// request's end forgets its session at once rather than arming a
// disconnect timer on the closed route.
func TestSockJSRouteCloseTimedOutKeepsNoTimer(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/echo", up.url("/echo"))
	r.SockJS.DisconnectDelay = config.Duration(time.Hour)
	g := newGateway(t, r, config.Limits{})
	sid := newSID()
	url := g.srv.URL + r.Path + "/000/" + sid + "/xhr"
	exchange(t, "open", "POST", url, "", nil, 200, "o\n")
	done := holdPoll(t, url, nil)
	waitFor(t, "the held poll", func() bool { return bridge.SockJSReceiving(g.rh, sid) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = g.rh.Close(ctx) // returns at once: the wait is over before it began
	done()
	waitFor(t, "the held poll's end", func() bool { return !bridge.SockJSReceiving(g.rh, sid) })
	if n := bridge.SockJSSessions(g.rh); n != 0 {
		t.Fatalf("the closed route holds %d SockJS sessions, want 0", n)
	}
}
