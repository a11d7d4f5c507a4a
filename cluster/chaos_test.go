package cluster

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/config"
)

// Holders are killed one after another while an SSE upstream streams; a
// reader on an instance that is never killed sees one unbroken sequence
// across every handover (each new holder resumes with Last-Event-ID).
func TestTopicRepeatedHandovers(t *testing.T) {
	if testing.Short() {
		t.Skip("several lease expiries")
	}
	_, url := startRedis(t)
	const total = 1500
	stop := make(chan struct{})
	srv := serve(t, stop, func(w http.ResponseWriter, r *http.Request) {
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
	ctx := context.Background()
	opts := func(c *Client) TopicOptions {
		// The reader never campaigns: only the killable instances hold.
		return TopicOptions{Log: LogOptions{Capacity: 4096}, LeaseTTL: leaseTTL, Hold: holdWith(c, route)}
	}
	readerClient := newClients(t, url, 1, Options{})[0]
	reader := openLog(t, readerClient, name, LogOptions{Capacity: 4096})

	// Two holders at a time; each round kills the current holder and
	// starts a fresh instance in its place.
	live := map[string]*Client{}
	start := func(i int) {
		c, err := New(Options{URL: url, InstanceID: fmt.Sprintf("h%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		tp, err := c.JoinTopic(ctx, name, opts(c))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tp.Leave)
		live[c.InstanceID()] = c
	}
	start(0)
	start(1)
	seen := 0
	rd := msglog.NewReader(reader, 0)
	var got []string
	next := 2
	for round := 0; round < 4; round++ {
		// Let some events through, then kill whoever holds the lease.
		res, _ := follow(t, rd, func(c *collected) bool { return len(c.entries) >= 150 })
		for _, e := range res.entries {
			got = append(got, string(e.Msg.Data))
		}
		if len(res.gaps) > 0 {
			t.Fatalf("round %d: gap %+v", round, res.gaps)
		}
		seen = len(got)
		holder, err := readerClient.LeaseHolder(ctx, name)
		if err != nil || live[holder] == nil {
			t.Fatalf("round %d: holder %q (%v)", round, holder, err)
		}
		_ = live[holder].Close()
		delete(live, holder)
		start(next)
		next++
	}
	res, _ := follow(t, rd, func(c *collected) bool { return seen+len(c.entries) >= total })
	if len(res.gaps) > 0 {
		t.Fatalf("final: gap %+v", res.gaps)
	}
	for _, e := range res.entries {
		if e.Kind != msglog.KindMessage {
			t.Fatalf("unexpected entry %+v", e)
		}
		got = append(got, string(e.Msg.Data))
	}
	for i, s := range got {
		if s != fmt.Sprintf("m%d", i) {
			t.Fatalf("event %d is %q (lost or repeated across a handover)", i, s)
		}
	}
}
