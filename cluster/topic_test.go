package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/upstream"
	"github.com/bridgeway/bridgeway/config"
)

const topicLeaseTTL = leaseTTL

// upstreamLog records which instance made each upstream request.
type upstreamLog struct {
	mu        sync.Mutex
	instances []string
	resumeIDs []string
}

func (u *upstreamLog) record(r *http.Request) {
	u.mu.Lock()
	u.instances = append(u.instances, r.Header.Get("X-Instance"))
	u.resumeIDs = append(u.resumeIDs, r.Header.Get("Last-Event-ID"))
	u.mu.Unlock()
}

// runs collapses consecutive requests by the same instance: "a,a,b" → [a b].
func (u *upstreamLog) runs() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, in := range u.instances {
		if len(out) == 0 || out[len(out)-1] != in {
			out = append(out, in)
		}
	}
	return out
}

// serve starts h; stop is closed before the server closes so streaming
// handlers end.
func serve(t *testing.T, stop chan struct{}, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		close(stop)
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// holdWith dials the route's upstream with the real adapter, tagging
// requests with the instance and resuming after lastEventID.
func holdWith(c *Client, route config.Route) func(context.Context, msg.Sink, string) msg.CloseInfo {
	return func(ctx context.Context, sink msg.Sink, lastEventID string) msg.CloseInfo {
		hdr := http.Header{"X-Instance": {c.InstanceID()}}
		if lastEventID != "" {
			hdr.Set("Last-Event-ID", lastEventID)
		}
		conn, err := upstream.Dial(ctx, upstream.Options{Route: route, URL: route.Upstream.URL, Header: hdr, Reconnect: true})
		if err != nil {
			return msg.CloseInfo{Code: 1014, Reason: err.Error()}
		}
		defer conn.Close()
		return conn.Run(ctx, sink)
	}
}

func joinAll(t *testing.T, cs []*Client, name string, opts func(*Client) TopicOptions) []*Topic {
	t.Helper()
	out := make([]*Topic, len(cs))
	for i, c := range cs {
		tp, err := c.JoinTopic(context.Background(), name, opts(c))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tp.Leave)
		out[i] = tp
	}
	return out
}

// waitHolder returns the index of the instance holding the topic.
func waitHolder(t *testing.T, cs []*Client, name string, not string) int {
	t.Helper()
	stop := time.Now().Add(deadline)
	ask := cs[0]
	if ask.InstanceID() == not {
		ask = cs[1] // the excluded instance is dead
	}
	for time.Now().Before(stop) {
		h, _ := ask.LeaseHolder(context.Background(), name)
		for i, c := range cs {
			if h != "" && h != not && c.InstanceID() == h {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no lease holder")
	return -1
}

// The SSE topic's holder is killed mid-stream: another instance takes the
// lease, resumes the upstream with Last-Event-ID, and subscribers on the
// surviving instances get every event exactly once, in order, no gap.
func TestTopicHolderKilledSSEResumes(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 3, Options{})
	const total = 300
	var ups upstreamLog
	stop := make(chan struct{})
	srv := serve(t, stop, func(w http.ResponseWriter, r *http.Request) {
		ups.record(r)
		start := 0
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			n, _ := strconv.Atoi(id)
			start = n + 1
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for i := start; i < total; i++ {
			fmt.Fprintf(w, "id: %d\ndata: m%d\n\n", i, i)
			w.(http.Flusher).Flush()
			select {
			case <-time.After(2 * time.Millisecond):
			case <-r.Context().Done():
				return
			case <-stop:
				return
			}
		}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	route := config.Route{Path: "/feed", Mode: config.ModeBroadcast, Upstream: config.Upstream{
		URL: srv.URL, Kind: config.KindSSE, Timeout: config.Duration(5 * time.Second),
		Reconnect: config.Reconnect{Min: config.Duration(20 * time.Millisecond), Max: config.Duration(100 * time.Millisecond)},
	}}
	name := TopicName(route.Path, "")
	topics := joinAll(t, cs, name, func(c *Client) TopicOptions {
		return TopicOptions{Log: LogOptions{Capacity: 1024}, LeaseTTL: topicLeaseTTL, Hold: holdWith(c, route)}
	})
	holder := waitHolder(t, cs, name, "")
	var readers []int
	for i := range cs {
		if i != holder {
			readers = append(readers, i)
		}
	}
	// Kill the holder once a survivor has seen 60 events.
	readUntil(t, topics[readers[0]].Log(), 0, atLeast(60))
	_ = cs[holder].Close()
	for _, i := range readers {
		got, _ := readUntil(t, topics[i].Log(), 0, atLeast(total))
		if len(got.gaps) > 0 {
			t.Fatalf("instance %d: gaps %+v", i, got.gaps)
		}
		for j, e := range got.entries {
			if e.Kind != msglog.KindMessage || string(e.Msg.Data) != fmt.Sprintf("m%d", j) {
				t.Fatalf("instance %d: entry %d = kind %d %q", i, j, e.Kind, e.Msg.Data)
			}
		}
	}
	runs := ups.runs()
	if len(runs) != 2 || runs[0] != cs[holder].InstanceID() {
		t.Fatalf("upstream connections by instance: %v (holder %s)", runs, cs[holder].InstanceID())
	}
	ups.mu.Lock()
	resumed := ups.resumeIDs[len(ups.resumeIDs)-1]
	ups.mu.Unlock()
	if n, err := strconv.Atoi(resumed); err != nil || n < 59 {
		t.Fatalf("new holder resumed with Last-Event-ID %q", resumed)
	}
}

// A poll topic joined by three instances is polled by one of them only;
// when it dies, by exactly one other; subscribers see each state once.
func TestTopicPollOneRequesterAcrossCluster(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 3, Options{})
	var ups upstreamLog
	var mu sync.Mutex
	requests := 0
	srv := serve(t, make(chan struct{}), func(w http.ResponseWriter, r *http.Request) {
		ups.record(r)
		mu.Lock()
		requests++
		v := requests / 2 // the state changes every second request
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"v":%d}`, v)
	})
	route := config.Route{Path: "/state", Mode: config.ModeBroadcast, Upstream: config.Upstream{
		URL: srv.URL, Kind: config.KindPoll, Interval: config.Duration(20 * time.Millisecond),
		Timeout:   config.Duration(5 * time.Second),
		Reconnect: config.Reconnect{Min: config.Duration(20 * time.Millisecond), Max: config.Duration(100 * time.Millisecond)},
	}}
	name := TopicName(route.Path, "")
	topics := joinAll(t, cs, name, func(c *Client) TopicOptions {
		return TopicOptions{Log: LogOptions{Capacity: 1024}, LeaseTTL: topicLeaseTTL, Hold: holdWith(c, route), SkipRepeat: true}
	})
	holder := waitHolder(t, cs, name, "")
	survivor := (holder + 1) % 3
	readUntil(t, topics[survivor].Log(), 0, atLeast(10))
	_ = cs[holder].Close()
	second := waitHolder(t, cs, name, cs[holder].InstanceID())
	// Let the new holder poll for a while, then check what everyone saw.
	mu.Lock()
	target := requests + 20
	mu.Unlock()
	for stopAt := time.Now().Add(deadline); ; {
		mu.Lock()
		n := requests
		mu.Unlock()
		if n >= target {
			break
		}
		if time.Now().After(stopAt) {
			t.Fatal("the new holder does not poll")
		}
		time.Sleep(20 * time.Millisecond)
	}
	runs := ups.runs()
	if len(runs) != 2 || runs[0] != cs[holder].InstanceID() || runs[1] != cs[second].InstanceID() {
		t.Fatalf("requests by instance (runs): %v; holders %s then %s", runs, cs[holder].InstanceID(), cs[second].InstanceID())
	}
	for i := range cs {
		if i == holder {
			continue
		}
		got, _ := readUntil(t, topics[i].Log(), 0, atLeast(12))
		prev := -1
		for _, e := range got.entries {
			if e.Kind != msglog.KindMessage {
				t.Fatalf("instance %d: unexpected gap entry %+v", i, e)
			}
			var v int
			if _, err := fmt.Sscanf(string(e.Msg.Data), `{"v":%d}`, &v); err != nil {
				t.Fatalf("instance %d: body %q", i, e.Msg.Data)
			}
			if v <= prev {
				t.Fatalf("instance %d: state %d after %d (repeated or out of order)", i, v, prev)
			}
			prev = v
		}
	}
}

// Client sends to a broadcast topic (client_send) reach whichever instance
// holds its upstream, in order; with no holder they are refused, not lost.
func TestTopicSendsReachTheHolder(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 3, Options{})
	ctx := context.Background()
	name := TopicName("/room", "")
	if err := cs[1].SendTopic(ctx, name, []msg.Message{{Data: []byte("nobody")}}); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("send with no holder: %v", err)
	}
	rec := newRecorder()
	hold := func(c *Client) func(context.Context, msg.Sink, string) msg.CloseInfo {
		return func(ctx context.Context, _ msg.Sink, _ string) msg.CloseInfo {
			in, err := c.OpenTopicInbox(ctx, name, func(_ context.Context, m msg.Message) error {
				return rec.deliver(ctx, msg.Message{Data: append([]byte(c.InstanceID()+":"), m.Data...)})
			})
			if err != nil {
				t.Errorf("topic inbox: %v", err)
				<-ctx.Done()
				return msg.CloseInfo{}
			}
			defer in.Close()
			<-ctx.Done()
			return msg.CloseInfo{}
		}
	}
	joinAll(t, cs[:2], name, func(c *Client) TopicOptions {
		return TopicOptions{Log: LogOptions{Capacity: 16}, LeaseTTL: topicLeaseTTL, Hold: hold(c)}
	})
	holder := waitHolder(t, cs, name, "")
	retry(t, func() error {
		return cs[2].SendTopic(ctx, name, []msg.Message{{Data: []byte("a")}, {Data: []byte("b")}})
	})
	got := rec.waitFor(t, 2)
	want := cs[holder].InstanceID()
	if got[0] != want+":a" || got[1] != want+":b" {
		t.Fatalf("delivered %q, want a, b at %s", got, want)
	}
}

// A topic's holder keeps receiving client sends when its inbox's owner key
// is taken by someone else: a crashed holder's key that outlives its topic
// lease (there at the start), or one that takes it over for a while (the
// inbox's lease is lost). KeepTopicInbox opens it again once the other key
// is gone; sends queued meanwhile are delivered, in order. (The holder used
// to carry on with no inbox for the rest of its hold.)
func TestTopicInboxKeptAgainstAStaleOwner(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	ctx := context.Background()
	name := TopicName("/room2", "")
	owner := cs[0].keys(name).owner
	rdb := cs[0].Redis()
	rdb.Set(ctx, owner, "crashed-holder", 1500*time.Millisecond)
	rec := newRecorder()
	joinAll(t, cs[:1], name, func(c *Client) TopicOptions {
		return TopicOptions{Log: LogOptions{Capacity: 16}, LeaseTTL: topicLeaseTTL, Hold: func(ctx context.Context, _ msg.Sink, _ string) msg.CloseInfo {
			stop := c.KeepTopicInbox(ctx, name, rec.deliver)
			defer stop()
			<-ctx.Done()
			return msg.CloseInfo{}
		}}
	})
	retry(t, func() error { return cs[1].SendTopic(ctx, name, []msg.Message{{Data: []byte("a")}}) })
	rec.waitFor(t, 1)
	// Another instance takes the inbox's key for a while.
	rdb.Set(ctx, owner, "another", 1500*time.Millisecond)
	retry(t, func() error { return cs[1].SendTopic(ctx, name, []msg.Message{{Data: []byte("b")}}) })
	retry(t, func() error { return cs[1].SendTopic(ctx, name, []msg.Message{{Data: []byte("c")}}) })
	got := rec.waitFor(t, 3)
	if got[0] != "a" || got[len(got)-1] != "c" {
		t.Fatalf("delivered %q, want a first and c last", got)
	}
}

// An inbox closed by a holder that is no longer its owner (its lease
// ran out and the topic's next holder took the inbox) leaves the queued
// sends to that owner: they used to be deleted with the old holder's close.
func TestInboxCloseLeavesTheNextOwnersSends(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	ctx := context.Background()
	name := TopicName("/room3", "")
	// The old holder is stalled: it delivers nothing before it closes.
	in, err := cs[0].OpenTopicInbox(ctx, name, func(ctx context.Context, _ msg.Message) error { <-ctx.Done(); return ctx.Err() })
	if err != nil {
		t.Fatal(err)
	}
	keys := cs[0].keys(name)
	rdb := cs[0].Redis()
	rdb.Set(ctx, keys.owner, "next-holder", time.Minute) // the next holder owns it now
	retry(t, func() error { return cs[1].SendTopic(ctx, name, []msg.Message{{Data: []byte("for the next holder")}}) })
	in.Close()
	if n := rdb.XLen(ctx, keys.inbox).Val(); n != 1 {
		t.Fatalf("%d sends left in the inbox after the old holder's close, want the one queued for the next", n)
	}
	if v := rdb.Get(ctx, keys.owner).Val(); v != "next-holder" {
		t.Fatalf("owner %q after the old holder's close", v)
	}
}
