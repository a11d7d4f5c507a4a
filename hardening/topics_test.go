package hardening

import (
	"fmt"
	"sync"
	"testing"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/redistest"
)

// topicRoute is a broadcast route whose placeholder picks the upstream:
// every new value opens a new upstream connection.
func topicRoute(app *wsApp) string {
	return "routes:\n  - path: /t/{room}\n    mode: broadcast\n    idle_close: 3s\n" +
		"    upstream: {url: \"" + app.wsURL("/rooms/{room}") + "\"}\n"
}

// TestTopicsBounded: new broadcast topics are capped per client address
// (429 too_many_topics_per_ip) and for the whole gateway (503
// too_many_topics), with Retry-After and no upstream connection for the
// refused ones; joining an open topic is always allowed; places come back
// when topics close at idle_close. The same holds with the cluster (Redis)
// topic path.
func TestTopicsBounded(t *testing.T) {
	limits := "limits: {max_topics: 3, max_topics_per_ip: 2}\n"
	t.Run("memory", func(t *testing.T) {
		app := newWSApp(t)
		checkTopicCaps(t, startGateway(t, limits+topicRoute(app)), app)
	})
	t.Run("cluster", func(t *testing.T) {
		rs := redistest.StartServer(t)
		app := newWSApp(t)
		checkTopicCaps(t, startGateway(t, limits+"cluster: {redis: \""+rs.URL()+"\"}\n"+topicRoute(app)), app)
	})
}

func checkTopicCaps(t *testing.T, g *gateway, app *wsApp) {
	a := dialFrom(t, g, "127.0.0.1")
	for _, room := range []string{"a1", "a2"} {
		if r := a.get(t, "/t/"+room+"/poll?wait=0"); r.status != 200 {
			t.Fatalf("topic %s: %d %s", room, r.status, r.body)
		}
	}
	perIP := a.get(t, "/t/a3/poll?wait=0")
	expectError(t, "third new topic from one address", perIP, 429, "too_many_topics_per_ip")
	if perIP.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if r := a.get(t, "/t/a1/poll?wait=0"); r.status != 200 {
		t.Errorf("joining an open topic at the per-IP cap: %d %s", r.status, r.body)
	}
	if r := dialFrom(t, g, "127.0.0.2").get(t, "/t/b1/poll?wait=0"); r.status != 200 {
		t.Fatalf("another address: %d %s", r.status, r.body)
	}
	c := dialFrom(t, g, "127.0.0.3")
	total := c.get(t, "/t/c1/poll?wait=0")
	expectError(t, "a topic beyond max_topics", total, 503, "too_many_topics")
	if total.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	expectWSRefused(t, g, "127.0.0.3", "/t/c2", 503, "a WebSocket subscriber beyond max_topics")
	if r := c.get(t, "/t/b1/poll?wait=0"); r.status != 200 {
		t.Errorf("joining an open topic at the gateway cap: %d %s", r.status, r.body)
	}
	eventually(t, "3 upstream connections", func() bool { return app.accepted.Load() >= 3 })
	if n := app.accepted.Load(); n != 3 {
		t.Errorf("%d upstream connections for 3 topics", n)
	}
	if n := g.metric("bridgeway_bridge_topics_refused_total", `reason="max_topics_per_ip"`); n != 1 {
		t.Errorf("per-IP refusals counted %v, want 1", n)
	}
	if n := g.metric("bridgeway_bridge_topics_refused_total", `reason="max_topics"`); n != 2 {
		t.Errorf("gateway-cap refusals counted %v, want 2", n)
	}
	// idle_close ends the topics and gives their places back.
	eventually(t, "topics to close", func() bool { return g.metric("bridgeway_bridge_topics_open") == 0 })
	if r := a.get(t, "/t/a3/poll?wait=0"); r.status != 200 {
		t.Errorf("after idle_close, a new topic: %d %s", r.status, r.body)
	}
	if r := c.get(t, "/t/c1/poll?wait=0"); r.status != 200 {
		t.Errorf("after idle_close, a new topic from the third address: %d %s", r.status, r.body)
	}
}

// TestTopicFloodWithDefaultsBounded: the repro against the
// defaults. One address asks for 150 new topics over 10 keep-alive
// connections at once; max_topics_per_ip (100) admits exactly 100, each
// with one upstream connection, the others get 429, and another address
// still opens topics.
func TestTopicFloodWithDefaultsBounded(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, topicRoute(app))
	const conns, perConn = 10, 15
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range conns {
		k := dialFrom(t, g, "127.0.0.1")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perConn {
				r := k.get(t, fmt.Sprintf("/t/r%d-%d/poll?wait=0", i, j))
				mu.Lock()
				codes[r.status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	want := config.DefaultMaxTopicsPerIP
	if codes[200] != want || codes[429] != conns*perConn-want {
		t.Errorf("answers %v, want %d × 200 and %d × 429", codes, want, conns*perConn-want)
	}
	eventually(t, "the admitted topics' upstreams", func() bool { return app.accepted.Load() >= int64(want) })
	if n := app.accepted.Load(); n != int64(want) {
		t.Errorf("%d upstream connections, want %d", n, want)
	}
	if r := dialFrom(t, g, "127.0.0.2").get(t, "/t/other/poll?wait=0"); r.status != 200 {
		t.Errorf("another address during the flood: %d %s", r.status, r.body)
	}
}
