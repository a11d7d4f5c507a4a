package bridge_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// routeFromYAML loads one route (and the limits) the way the gateway does,
// defaults and all, so that what a file says is what the test runs.
func routeFromYAML(t *testing.T, route string) (config.Route, config.Limits) {
	t.Helper()
	cfg, err := config.Parse("zero.yaml", []byte("listen: 127.0.0.1:0\nadmin: {listen: \"\"}\nroutes:\n"+route))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Routes[0], cfg.Limits
}

// pollSession opens a session with one poll answered at once on a
// session-mode route whose YAML ends with extra: the poll's client has
// left when this returns.
func pollSession(t *testing.T, extra string) (*testUpstream, *gateway, pollAnswer) {
	t.Helper()
	up := newUpstream(t)
	route, limits := routeFromYAML(t, "  - path: /chat\n    upstream: {url: \""+up.url("/app")+"\", kind: websocket}\n"+extra)
	g := newGateway(t, route, limits)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "?wait=0", nil)
	waitFor(t, "upstream connected", func() bool { _, opened, _ := up.stats(); return opened == 1 })
	return up, g, first
}

// An explicit session_ttl of 0s ends a session as soon as its last client
// leaves (it used to be read as unset: 30 s).
func TestZeroSessionTTLEndsTheSessionAtOnce(t *testing.T) {
	up, g, first := pollSession(t, "    session_ttl: 0s\n")
	// Within a third of the default: the default would still hold it.
	waitWithin(t, config.DefaultSessionTTL.D()/3, "the session's end to close its upstream", func() bool {
		open, _, _ := up.stats()
		return open == 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	expectError(t, g.get(t, ctx, "/chat/poll?cursor="+first.Cursor, nil), http.StatusNotFound, "session_not_found")
}

// Left out, session_ttl keeps its 30 s default: a session outlives its
// client between two polls.
func TestAbsentSessionTTLKeepsTheSession(t *testing.T) {
	up, g, first := pollSession(t, "")
	up.publish("after")
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	a, _ := g.poll(t, ctx, "?cursor="+first.Cursor, nil)
	if len(a.Messages) != 1 || a.Messages[0].Data != "after" {
		t.Fatalf("the session's next poll: %+v", a)
	}
}

// An explicit idle_close of 0s closes a broadcast topic's upstream as soon
// as its last subscriber leaves.
func TestZeroIdleCloseClosesTheUpstreamAtOnce(t *testing.T) {
	up := newUpstream(t)
	route, limits := routeFromYAML(t, "  - path: /prices/{symbol}\n    upstream: {url: \""+up.url("/feed?s={symbol}")+"\", kind: websocket}\n    mode: broadcast\n    idle_close: 0s\n")
	g := newGateway(t, route, limits)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	// A poll answered at once: its client leaves when it has the answer.
	g.bpoll(t, ctx, "AAA", "?wait=0")
	waitFor(t, "the topic's upstream", func() bool { _, opened, _ := up.stats(); return opened == 1 })
	waitWithin(t, config.DefaultIdleClose.D()/3, "the topic's upstream to close", func() bool {
		open, _, _ := up.stats()
		return open == 0
	})
}
