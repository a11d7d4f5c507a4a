package loadgen

import (
	"context"
	"io"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"
)

// TestSplitSubsSpreadsEveryTransport: each transport's count is divided
// evenly, the remainder to the first shards, nothing lost or added.
func TestSplitSubsSpreadsEveryTransport(t *testing.T) {
	got := SplitSubs([]SubGroup{{TransportSSE, 22500}, {TransportWebSocket, 7}}, 4)
	want := [][]SubGroup{
		{{TransportSSE, 5625}, {TransportWebSocket, 2}},
		{{TransportSSE, 5625}, {TransportWebSocket, 2}},
		{{TransportSSE, 5625}, {TransportWebSocket, 2}},
		{{TransportSSE, 5625}, {TransportWebSocket, 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SplitSubs = %v, want %v", got, want)
	}
}

// TestMergeReportsAddsShards: two shards' known reports merge into the
// sums, per transport in order of first appearance, with latency
// quantiles over both shards' samples and their errors counted together.
func TestMergeReportsAddsShards(t *testing.T) {
	oneMs, hundredMs := bucketOf(1000), bucketOf(100000)
	a := shardReport{Failed: 1, Dropped: 0, PollCycles: 5, Errors: map[string]int{"boom": 1},
		Groups: []groupReport{{TransportResult: TransportResult{Transport: TransportSSE, Subs: 3, Connected: 2, Delivered: 19, Lost: 1, Gaps: 1},
			Hist: histSnapshot{Buckets: map[int]uint64{oneMs: 19}, MaxNanos: int64(time.Millisecond)}}}}
	b := shardReport{Failed: 0, Dropped: 2, PollCycles: 7, Errors: map[string]int{"boom": 2, "reset": 1},
		Groups: []groupReport{
			{TransportResult: TransportResult{Transport: TransportWebSocket, Subs: 2, Connected: 2, Delivered: 20, Duplicated: 3, OutOfOrder: 1}, Foreign: 4,
				Hist: histSnapshot{Buckets: map[int]uint64{oneMs: 19, hundredMs: 1}, MaxNanos: int64(100 * time.Millisecond)}},
			{TransportResult: TransportResult{Transport: TransportSSE, Subs: 2, Connected: 2, Delivered: 20},
				Hist: histSnapshot{Buckets: map[int]uint64{oneMs: 20}, MaxNanos: int64(time.Millisecond)}},
		}}
	r := &FanoutResult{Published: 10}
	r.mergeReports([]shardReport{a, b})

	if r.Connected != 6 || r.Failed != 1 || r.Dropped != 2 || r.Delivered != 59 || r.Expected != 60 ||
		r.Lost != 1 || r.Duplicated != 3 || r.OutOfOrder != 1 || r.Gaps != 1 || r.Foreign != 4 || r.PollCycles != 12 {
		t.Fatalf("totals: %+v", r)
	}
	if len(r.PerTransport) != 2 || r.PerTransport[0].Transport != TransportSSE || r.PerTransport[1].Transport != TransportWebSocket {
		t.Fatalf("transports: %+v", r.PerTransport)
	}
	sse, ws := r.PerTransport[0], r.PerTransport[1]
	if sse.Subs != 5 || sse.Connected != 4 || sse.Delivered != 39 || sse.Lost != 1 || sse.Latency.Count != 39 || sse.Latency.MaxUs != 1000 {
		t.Fatalf("sse: %+v", sse)
	}
	if ws.Subs != 2 || ws.Connected != 2 || ws.Delivered != 20 || ws.Latency.Count != 20 || ws.Latency.MaxUs != 100000 {
		t.Fatalf("websocket: %+v", ws)
	}
	// 58 samples at 1 ms and one at 100 ms: p50 in the 1 ms bucket, the
	// maximum exact.
	if r.Latency.Count != 59 || r.Latency.P50us < 930 || r.Latency.P50us > 1070 || r.Latency.MaxUs != 100000 {
		t.Fatalf("latency: %+v", r.Latency)
	}
	if want := []string{"1x reset", "3x boom"}; !reflect.DeepEqual(r.Errors, want) {
		t.Fatalf("errors %q, want %q", r.Errors, want)
	}
}

// TestShardedRunMergesShards runs the subscribers in three shards (here
// goroutines joined by pipes, as cmd/bridgeway-bench joins processes),
// each from its own loopback source address, against the fake gateway:
// the merged result counts every subscriber and delivery once, and the
// gateway saw the connections arrive from the three addresses.
func TestShardedRunMergesShards(t *testing.T) {
	g := newFakeGateway()
	defer g.close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	subs := []SubGroup{{TransportSSE, 5}, {TransportWebSocket, 4}}
	parts := SplitSubs(subs, 3)
	var wg sync.WaitGroup
	defer wg.Wait()
	errs := make(chan error, len(parts))
	shards := func(ctx context.Context, run string) ([]ShardLink, error) {
		var links []ShardLink
		for i, part := range parts {
			cr, cw := io.Pipe()
			rr, rw := io.Pipe()
			cfg := ShardConfig{Run: run, URL: g.srv.URL + "/t", Subs: part, Publishers: 2, Source: net.IPv4(127, 0, 0, byte(2+i))}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := RunShard(ctx, cfg, cr, rw)
				rw.CloseWithError(io.EOF)
				cr.Close()
				errs <- err
			}()
			links = append(links, ShardLink{Control: cw, Reports: rr})
		}
		return links, nil
	}
	res, err := RunFanout(ctx, FanoutConfig{
		URL: g.srv.URL + "/t", PublishURL: g.srv.URL + "/pub", Subs: subs,
		Rate: 60, Publishers: 2, Count: 20, Settle: 50 * time.Millisecond, Drain: 20 * time.Second,
		Shards: shards,
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for range parts {
		if err := <-errs; err != nil {
			t.Errorf("shard: %v", err)
		}
	}
	if res.Subscribers != 9 || res.Connected != 9 || res.Published != 20 || res.Expected != 180 ||
		res.Delivered != 180 || res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || res.Latency.Count != 180 {
		t.Fatalf("sharded run: %+v", res)
	}
	if len(res.PerTransport) != 2 || res.PerTransport[0].Connected != 5 || res.PerTransport[0].Delivered != 100 ||
		res.PerTransport[1].Connected != 4 || res.PerTransport[1].Delivered != 80 {
		t.Fatalf("per transport: %+v", res.PerTransport)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	want := map[string]int{"127.0.0.2": 4, "127.0.0.3": 3, "127.0.0.4": 2}
	if !reflect.DeepEqual(g.sources, want) {
		t.Fatalf("subscriber requests by source address %v, want %v", g.sources, want)
	}
}
