package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/redistest"
)

// newClusterGateways starts n bridge instances sharing one Redis; each gets
// its own cluster client and tags its upstream requests X-Instance: gN.
func newClusterGateways(t *testing.T, route config.Route, n int) []*gateway {
	t.Helper()
	gws, _ := newClusterGatewaysRedis(t, route, n)
	return gws
}

func newClusterGatewaysRedis(t *testing.T, route config.Route, n int) ([]*gateway, *redistest.Server) {
	t.Helper()
	return newClusterGatewaysWith(t, route, n, config.Limits{})
}

// newClusterGatewaysWith is newClusterGatewaysRedis with limits.
func newClusterGatewaysWith(t *testing.T, route config.Route, n int, limits config.Limits) ([]*gateway, *redistest.Server) {
	t.Helper()
	rs := redistest.StartServer(t)
	url := rs.URL()
	cluster.RedirectRedisLogs(zap.NewNop())
	out := make([]*gateway, n)
	for i := range out {
		cl, err := cluster.New(cluster.Options{URL: url, InstanceID: fmt.Sprintf("g%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cl.Close() })
		r := route
		r.Upstream.Headers = map[string]string{"X-Instance": fmt.Sprintf("g%d", i)}
		reg := prometheus.NewRegistry()
		b := bridge.New(bridge.Deps{Logger: zap.NewNop(), Registry: reg, Cluster: cl, Limits: limits})
		rh, err := b.NewRoute(r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = &gateway{srv: newServer(t, rh), rh: rh, reg: reg, route: r}
	}
	return out, rs
}

// A poll route with subscribers spread over three instances: one instance
// polls the upstream for the whole cluster, and every subscriber sees each
// state once, in order, whichever instance each of its polls reaches.
func TestClusterPollTopicOneUpstreamRequester(t *testing.T) {
	var mu sync.Mutex
	var requesters []string
	requests := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		v := requests
		if len(requesters) == 0 || requesters[len(requesters)-1] != r.Header.Get("X-Instance") {
			requesters = append(requesters, r.Header.Get("X-Instance"))
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"v":%d}`, v)
	}))
	defer up.Close()
	route := config.Route{
		Path:        "/state",
		Upstream:    config.Upstream{URL: up.URL, Kind: config.KindPoll, Interval: config.Duration(25 * time.Millisecond)},
		Mode:        config.ModeBroadcast,
		Buffer:      1024,
		PollTimeout: config.Duration(5 * time.Second),
		IdleClose:   durationPtr(30 * time.Second),
	}
	gws := newClusterGateways(t, route, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()

	const subscribers = 30
	const target = 40 // states each subscriber waits for
	var wg sync.WaitGroup
	errs := make(chan error, subscribers)
	for s := 0; s < subscribers; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 9))
			cursor, last, seen := "", 0, 0
			for seen < target {
				g := gws[rng.IntN(len(gws))]
				q := "/state/poll"
				if cursor != "" {
					q += "?cursor=" + cursor
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.srv.URL+q, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				var a pollAnswer
				err = json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err != nil {
					errs <- fmt.Errorf("poll %s: %d %v", q, resp.StatusCode, err)
					return
				}
				if a.Gap != nil {
					errs <- fmt.Errorf("subscriber %d: gap %+v", s, a.Gap)
					return
				}
				for _, m := range a.Messages {
					var v struct{ V int }
					_ = json.Unmarshal([]byte(m.Data), &v)
					if v.V <= last {
						errs <- fmt.Errorf("subscriber %d: state %d after %d", s, v.V, last)
						return
					}
					last = v.V
					seen++
				}
				cursor = a.Cursor
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requesters) != 1 {
		t.Fatalf("upstream requests came from %v, want one instance", requesters)
	}
}

// A broadcast topic read over SSE by a client that reconnects to another
// instance every 100 messages with Last-Event-ID: no loss, no duplicates.
func TestClusterSSEHopsInstances(t *testing.T) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	gws := newClusterGateways(t, route, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	const n = 1000
	// One subscriber per instance keeps the topic joined everywhere; the
	// first makes the upstream connect.
	for _, g := range gws {
		s := g.openSSE(t, ctx, "/prices/ACME/sse", nil)
		defer s.resp.Body.Close()
	}
	waitFor(t, "the upstream connection", func() bool { open, _, _ := up.stats(); return open == 1 })
	// The hopping client subscribes before anything is published, so it
	// starts at m0 (no snapshot yet).
	var s *sseStream
	publish := func() {
		for i := 0; i < n; i++ {
			up.publish(wantText(i))
			if i%50 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	var got []string
	lastID := ""
	for hop := 0; len(got) < n; hop++ {
		hdr := http.Header{}
		if lastID != "" {
			hdr.Set("Last-Event-ID", lastID)
		}
		s = gws[hop%3].openSSE(t, ctx, "/prices/ACME/sse", hdr)
		if hop == 0 {
			go publish()
		}
		for k := 0; k < 100 && len(got) < n; {
			ev := s.next(t)
			switch ev.Type {
			case "", "message":
				got = append(got, ev.Data)
				lastID = ev.ID
				k++
			case "gap":
				t.Fatalf("hop %d: gap %s", hop, ev.Data)
			}
		}
		s.resp.Body.Close()
	}
	checkSeq(t, got, n, "sse hopping")
	if _, opened, _ := up.stats(); opened != 1 {
		t.Fatalf("upstream connections: %d, want 1 for the whole cluster", opened)
	}
}

// A long-poll client whose every request (polls and sends) reaches a
// random one of three instances; one upstream connection (on the instance
// that opened the session) echoes. 2,000 messages each way, each exactly
// once and in order.
func TestClusterLongPollSessionHopsInstances(t *testing.T) {
	up := newUpstream(t)
	gws := newClusterGateways(t, sessionRoute(up), 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	rng := rand.New(rand.NewPCG(5, 6))
	pick := func() *gateway { return gws[rng.IntN(len(gws))] }

	a, resp := pick().poll(t, ctx, "", nil)
	if resp.StatusCode != http.StatusOK || a.Session == "" {
		t.Fatalf("open: %d %+v", resp.StatusCode, a)
	}
	id, cursor := a.Session, a.Cursor
	const n, batch = 2000, 10
	var got []string
	seq := 0
	for sent := 0; len(got) < n; {
		if sent < n {
			texts := make([]string, batch)
			for i := range texts {
				texts[i] = wantText(sent + i)
			}
			body, _ := json.Marshal(map[string][]string{"messages": texts})
			for try := 0; try < 1+rng.IntN(2); try++ { // sometimes retried elsewhere
				r := pick().post(t, fmt.Sprintf("/chat/send?session=%s&seq=%d", id, seq), "application/json", body, nil)
				r.Body.Close()
				if r.StatusCode != http.StatusNoContent {
					t.Fatalf("send seq %d: %d", seq, r.StatusCode)
				}
			}
			seq++
			sent += batch
		}
		a, resp := pick().poll(t, ctx, "?cursor="+cursor, nil)
		if resp.StatusCode != http.StatusOK || a.Gap != nil || a.Closed != nil {
			t.Fatalf("poll: %d gap %+v closed %+v", resp.StatusCode, a.Gap, a.Closed)
		}
		for _, m := range a.Messages {
			got = append(got, m.Data)
		}
		cursor = a.Cursor
	}
	checkSeq(t, got, n, "echoes")
	_, opened, received := up.stats()
	if opened != 1 || received != n {
		t.Fatalf("upstream: %d connections, %d messages received; want 1, %d", opened, received, n)
	}
}

// Redis stopped: new sessions are refused with 503 cluster_unavailable;
// restarted: sessions open again.
func TestClusterRedisDownRefusesNewSessions(t *testing.T) {
	up := newUpstream(t)
	gws, rs := newClusterGatewaysRedis(t, sessionRoute(up), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	rs.Stop()
	_, resp := gws[0].poll(t, ctx, "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("open while Redis is down: %d", resp.StatusCode)
	}
	rs.Restart()
	waitFor(t, "sessions open again", func() bool {
		a, resp := gws[1].poll(t, ctx, "", nil)
		return resp.StatusCode == http.StatusOK && a.Session != ""
	})
}

// A session stays bound to its credentials on every instance after its
// owner let it go: its log stays readable in Redis for session_ttl, and an
// instance that never served the session must still refuse other
// credentials (it served the log to anyone with the id: the record without
// an owner was read as having no credentials).
func TestClusterSessionStaysBoundAfterItsOwnerLeft(t *testing.T) {
	up := newUpstream(t)
	gws := newClusterGateways(t, sessionRoute(up), 2)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	alice := http.Header{"Cookie": {"sid=alice"}}
	first, resp := gws[0].poll(t, ctx, "?wait=0", alice)
	if resp.StatusCode != http.StatusOK || first.Session == "" {
		t.Fatalf("open: %d %+v", resp.StatusCode, first)
	}
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	up.publish("secret")
	waitFor(t, "the message in the session's log", func() bool {
		a, _ := gws[0].poll(t, ctx, "?wait=0&cursor="+first.Cursor, alice)
		return len(a.Messages) == 1
	})
	// The owner lets its sessions go (its route closes, as at shutdown):
	// the owner record goes, the log stays for session_ttl.
	closeCtx, closeCancel := context.WithTimeout(ctx, deadline)
	defer closeCancel()
	if err := gws[0].rh.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	q := "?wait=0&cursor=" + first.Cursor
	for _, h := range []http.Header{nil, {"Cookie": {"sid=mallory"}}} {
		resp := gws[1].get(t, ctx, "/chat/poll"+q, h)
		if resp.StatusCode == http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Fatalf("other credentials %v read the session on another instance: %s", h, body)
		}
		resp.Body.Close()
	}
	a, resp := gws[1].poll(t, ctx, q, alice)
	if resp.StatusCode != http.StatusOK || len(a.Messages) != 1 || a.Messages[0].Data != "secret" {
		t.Fatalf("the session's own credentials on another instance: %d %+v", resp.StatusCode, a)
	}
}
