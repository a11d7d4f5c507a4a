package bridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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

// clusterGateway is one bridge instance on a shared Redis, with its cluster
// client so a test can kill it.
func clusterGateway(t *testing.T, route config.Route, redisURL string, i int) (*gateway, *cluster.Client) {
	t.Helper()
	cluster.RedirectRedisLogs(zap.NewNop())
	cl, err := cluster.New(cluster.Options{URL: redisURL, InstanceID: fmt.Sprintf("g%d", i)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	r := route
	r.Upstream.Headers = map[string]string{"X-Instance": fmt.Sprintf("g%d", i)}
	reg := prometheus.NewRegistry()
	b := bridge.New(bridge.Deps{Logger: zap.NewNop(), Registry: reg, Cluster: cl})
	rh, err := b.NewRoute(r)
	if err != nil {
		t.Fatal(err)
	}
	return &gateway{srv: newServer(t, rh), rh: rh, reg: reg, route: r}, cl
}

// resumableSSE is an SSE upstream of total events that honours
// Last-Event-ID, and records which instance connected.
type resumableSSE struct {
	srv   *httptest.Server
	stop  chan struct{}
	mu    sync.Mutex
	conns []string // "instance:last-event-id"
}

func newResumableSSE(t *testing.T, total int) *resumableSSE {
	u := &resumableSSE{stop: make(chan struct{})}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.conns = append(u.conns, r.Header.Get("X-Instance")+":"+r.Header.Get("Last-Event-ID"))
		u.mu.Unlock()
		start := 0
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			n, _ := strconv.Atoi(id)
			start = n + 1
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for i := start; i < total; i++ {
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", i, wantText(i))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(3 * time.Millisecond):
			case <-r.Context().Done():
				return
			case <-u.stop:
				return
			}
		}
		select {
		case <-r.Context().Done():
		case <-u.stop:
		}
	}))
	t.Cleanup(func() {
		close(u.stop)
		u.srv.CloseClientConnections()
		u.srv.Close()
	})
	return u
}

func (u *resumableSSE) connections() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.conns...)
}

// The instance holding a topic's upstream is killed mid-stream: another
// takes the lease, resumes the SSE upstream with Last-Event-ID, and SSE
// subscribers on the surviving instances miss nothing and see nothing twice.
func TestClusterTopicHolderKilledMidStream(t *testing.T) {
	const total = 600
	up := newResumableSSE(t, total)
	route := config.Route{
		Path: "/feed",
		Upstream: config.Upstream{URL: up.srv.URL, Kind: config.KindSSE, Timeout: config.Duration(5 * time.Second),
			Reconnect: config.Reconnect{Min: config.Duration(20 * time.Millisecond), Max: config.Duration(200 * time.Millisecond)}},
		Mode:      config.ModeBroadcast,
		Buffer:    1024,
		Heartbeat: config.Duration(15 * time.Second),
		IdleClose: durationPtr(30 * time.Second),
		Snapshot:  new(bool), // start at the next event, not the latest
	}
	redisURL := redistest.StartServer(t).URL()
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	gws := make([]*gateway, 3)
	clients := make([]*cluster.Client, 3)
	streams := make([]*sseStream, 3)
	for i := range gws {
		gws[i], clients[i] = clusterGateway(t, route, redisURL, i)
		streams[i] = gws[i].openSSE(t, ctx, "/feed/sse", nil)
		defer streams[i].resp.Body.Close()
	}
	waitFor(t, "an upstream connection", func() bool { return len(up.connections()) > 0 })
	holder := strings.Split(up.connections()[0], ":")[0]
	dead := int(holder[1] - '0')

	// Each surviving subscriber reads to the end; the holder dies once a
	// survivor has seen 100 events.
	type result struct {
		got  []string
		gaps []string
	}
	results := make([]result, 3)
	seen100 := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for i := range gws {
		if i == dead {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(results[i].got) == 0 || results[i].got[len(results[i].got)-1] != wantText(total-1) {
				ev, err := streams[i].p.Next()
				if err != nil {
					results[i].gaps = append(results[i].gaps, "read error: "+err.Error())
					return
				}
				switch ev.Type {
				case "", "message":
					results[i].got = append(results[i].got, ev.Data)
					if len(results[i].got) == 100 {
						once.Do(func() { close(seen100) })
					}
				case "gap", "close":
					results[i].gaps = append(results[i].gaps, ev.Type+" "+ev.Data)
					return
				}
			}
		}()
	}
	select {
	case <-seen100:
	case <-ctx.Done():
		t.Fatal("no events reached the survivors")
	}
	_ = clients[dead].Close() // the holder's process is gone: no lease release
	wg.Wait()
	for i, r := range results {
		if i == dead {
			continue
		}
		if len(r.gaps) > 0 {
			t.Fatalf("instance %d: %v", i, r.gaps)
		}
		first, err := strconv.Atoi(strings.TrimPrefix(r.got[0], "m"))
		if err != nil {
			t.Fatalf("instance %d: first event %q", i, r.got[0])
		}
		for j, s := range r.got {
			if s != wantText(first+j) {
				t.Fatalf("instance %d: event %d is %q, want %q (lost or repeated)", i, j, s, wantText(first+j))
			}
		}
	}
	conns := up.connections()
	if len(conns) != 2 || strings.HasPrefix(conns[1], holder+":") || strings.HasSuffix(conns[1], ":") {
		t.Fatalf("upstream connections %v: want the holder, then one other instance resuming with Last-Event-ID", conns)
	}
}

// Redis restarted empty while a session is open: sends are refused (503)
// while it is down, and afterwards the same session carries on from the
// client's cursor. The client had read everything before the restart and
// the refused send never entered the log, so nothing is lost to it: a gap
// ("cluster state lost") may come first or not, depending on which write
// recreated the log's state in Redis; a client that was behind sees the
// hole as a gap (cluster's TestRedisStoppedAndRestarted).
func TestClusterSessionAcrossRedisRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	up, rs, _, a := openOnRedis(t, ctx, nil)
	other, _ := clusterGateway(t, sessionRoute(up), rs.URL(), 1)
	id, cursor := a.Session, a.Cursor
	other.send(t, id, "before")
	a, _ = other.poll(t, ctx, "?cursor="+cursor, nil)
	if len(a.Messages) != 1 || a.Messages[0].Data != "before" {
		t.Fatalf("echo before restart: %+v", a)
	}
	cursor = a.Cursor

	rs.Stop()
	r := other.post(t, "/chat/send?session="+id, "text/plain", []byte("lost"), nil)
	expectError(t, r, http.StatusServiceUnavailable, "cluster_unavailable")
	rs.Restart()

	// The owner takes its session back; sends and polls work again.
	waitFor(t, "sends accepted again", func() bool {
		r := other.post(t, "/chat/send?session="+id, "text/plain", []byte("after"), nil)
		r.Body.Close()
		return r.StatusCode == http.StatusNoContent
	})
	var got []string
	waitFor(t, "the echo after the restart", func() bool {
		a, resp := other.poll(t, ctx, "?wait=0&cursor="+cursor, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("poll after restart: %d", resp.StatusCode)
		}
		for _, m := range a.Messages {
			got = append(got, m.Data)
		}
		cursor = a.Cursor
		return len(got) > 0
	})
	if got[0] != "after" {
		t.Fatalf("after restart: messages %q, want \"after\" first (\"before\" again would be a duplicate)", got)
	}
}

// openOnRedis opens a session with hdr's credentials on an instance (g0)
// of a cluster on its own Redis, which the caller restarts.
func openOnRedis(t *testing.T, ctx context.Context, hdr http.Header) (*testUpstream, *redistest.Server, *gateway, pollAnswer) {
	t.Helper()
	up := newUpstream(t)
	rs := redistest.StartServer(t)
	owner, _ := clusterGateway(t, sessionRoute(up), rs.URL(), 0)
	a, resp := owner.poll(t, ctx, "?wait=0", hdr)
	if resp.StatusCode != http.StatusOK || a.Session == "" {
		t.Fatalf("open: %d %+v", resp.StatusCode, a)
	}
	return up, rs, owner, a
}

// A bound session's credentials come back with its owner after Redis
// restarted empty: an instance that never served the session serves it to
// its own credentials and to nobody else's.
func TestClusterSessionStaysBoundAcrossRedisRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	alice := http.Header{"Cookie": {"sid=alice"}}
	up, rs, owner, a := openOnRedis(t, ctx, alice)
	id, cursor := a.Session, a.Cursor
	rs.Stop()
	rs.Restart()
	// Alice's send reaches the owner once it holds the session again; its
	// echo recreates the log in Redis.
	waitFor(t, "sends accepted again", func() bool {
		r := owner.post(t, "/chat/send?session="+id, "text/plain", []byte("after"), alice)
		r.Body.Close()
		return r.StatusCode == http.StatusNoContent
	})
	fresh, _ := clusterGateway(t, sessionRoute(up), rs.URL(), 1)
	// The echo, on an instance that never served the session.
	got, cursor := pollFrom(t, ctx, fresh, cursor, alice, 1)
	if got[0] != "after" {
		t.Fatalf("after restart: %q", got)
	}
	other, _ := clusterGateway(t, sessionRoute(up), rs.URL(), 2)
	for _, g := range []*gateway{fresh, other} {
		resp := g.get(t, ctx, "/chat/poll?wait=0&cursor="+cursor, http.Header{"Cookie": {"sid=mallory"}})
		expectError(t, resp, http.StatusForbidden, "credentials_mismatch")
	}
}

// 300 long-poll subscribers spread over three instances, each poll to a
// random instance: the upstream is polled by one instance for the whole
// cluster, and every subscriber sees every state (one per upstream
// request) exactly once, in order.
func TestClusterPoll300Subscribers(t *testing.T) {
	var mu sync.Mutex
	requesters := map[string]int{}
	requests := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		v := requests
		requesters[r.Header.Get("X-Instance")]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"v":%d}`, v)
	}))
	defer up.Close()
	route := config.Route{
		Path:        "/state",
		Upstream:    config.Upstream{URL: up.URL, Kind: config.KindPoll, Interval: config.Duration(100 * time.Millisecond)},
		Mode:        config.ModeBroadcast,
		Buffer:      1024,
		PollTimeout: config.Duration(10 * time.Second),
		IdleClose:   durationPtr(30 * time.Second),
	}
	redisURL := redistest.StartServer(t).URL()
	gws := make([]*gateway, 3)
	for i := range gws {
		gws[i], _ = clusterGateway(t, route, redisURL, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*deadline)
	defer cancel()
	const subscribers, states = 300, 8
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: subscribers}}
	defer client.CloseIdleConnections()
	errs := make(chan error, subscribers)
	var wg sync.WaitGroup
	for s := 0; s < subscribers; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cursor, last, seen := "", 0, 0
			for hop := s; seen < states; hop++ {
				q := "/state/poll"
				if cursor != "" {
					q += "?cursor=" + cursor
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gws[hop%3].srv.URL+q, nil)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				var a pollAnswer
				err = jsonDecode(resp, &a)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err != nil || a.Gap != nil {
					errs <- fmt.Errorf("subscriber %d: %d %v gap %+v", s, resp.StatusCode, err, a.Gap)
					return
				}
				for _, m := range a.Messages {
					var v struct{ V int }
					_ = jsonUnmarshal(m.Data, &v)
					if last != 0 && v.V != last+1 {
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
		t.Fatalf("upstream polled by %v, want one instance", requesters)
	}
}

// client_send on a broadcast route in cluster mode: sends posted to any
// instance reach the one shared upstream connection, in order.
func TestClusterBroadcastClientSend(t *testing.T) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	route.ClientSend = true
	redisURL := redistest.StartServer(t).URL()
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	gws := make([]*gateway, 3)
	for i := range gws {
		gws[i], _ = clusterGateway(t, route, redisURL, i)
	}
	s := gws[0].openSSE(t, ctx, "/prices/ACME/sse", nil)
	defer s.resp.Body.Close()
	waitFor(t, "the upstream connection", func() bool { open, _, _ := up.stats(); return open == 1 })
	// The holder opens the topic inbox right after connecting; until then a
	// send is refused (503), never lost.
	waitFor(t, "the first send accepted", func() bool {
		r := gws[1].post(t, "/prices/ACME/send", "text/plain", []byte(wantText(0)), nil)
		r.Body.Close()
		return r.StatusCode == http.StatusNoContent
	})
	const n = 50
	for i := 1; i < n; i++ {
		r := gws[1+i%2].post(t, "/prices/ACME/send", "text/plain", []byte(wantText(i)), nil)
		r.Body.Close()
		if r.StatusCode != http.StatusNoContent {
			t.Fatalf("send %d: %d", i, r.StatusCode)
		}
	}
	waitFor(t, "every send at the upstream", func() bool { _, _, received := up.stats(); return received >= n })
	checkSeq(t, up.receivedTexts(), n, "client sends at the upstream")
	if _, opened, _ := up.stats(); opened != 1 {
		t.Fatalf("%d upstream connections, want 1", opened)
	}
}
