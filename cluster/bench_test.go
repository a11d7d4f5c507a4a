package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
)

func benchClients(b *testing.B) (*Client, *Client) {
	b.Helper()
	url := "redis://" + startRedisB(b) + "/0"
	var cs [2]*Client
	for i := range cs {
		c, err := New(Options{URL: url})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		cs[i] = c
	}
	return cs[0], cs[1]
}

func roundTrips(cs ...*Client) float64 {
	var n float64
	for _, c := range cs {
		n += testutil.ToFloat64(c.metrics.roundTrips)
	}
	return n
}

// BenchmarkStreamLogLatency: one message at a time, appended on one
// instance and awaited on another; ns/op is the one-way latency through
// Redis (XADD script + the tailer's XREAD).
func BenchmarkStreamLogLatency(b *testing.B) {
	a, r := benchClients(b)
	ctx := context.Background()
	w, _ := a.OpenLog(ctx, "t:bench", LogOptions{Capacity: 1024})
	defer w.Release()
	rl, _ := r.OpenLog(ctx, "t:bench", LogOptions{Capacity: 1024})
	defer rl.Release()
	payload := []byte(`{"price":123.45,"symbol":"ACME"}`)
	var pos uint64
	var buf []*msglog.Entry
	rt0 := roundTrips(a, r)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Append(msg.Message{Data: payload})
		for {
			bt := rl.Read(pos, buf, 64)
			buf = bt.Entries[:0]
			if n := len(bt.Entries); n > 0 {
				pos = bt.Entries[n-1].Seq
				break
			}
			<-bt.Wait
		}
	}
	b.StopTimer()
	b.ReportMetric((roundTrips(a, r)-rt0)/float64(b.N), "roundtrips/msg")
}

// BenchmarkStreamLogThroughput: an appender and a reader on different
// instances, running freely; the tailer batches reads.
func BenchmarkStreamLogThroughput(b *testing.B) {
	a, r := benchClients(b)
	ctx := context.Background()
	w, _ := a.OpenLog(ctx, "t:bench", LogOptions{Capacity: 1 << 16})
	defer w.Release()
	rl, _ := r.OpenLog(ctx, "t:bench", LogOptions{Capacity: 1 << 16})
	defer rl.Release()
	payload := []byte(`{"price":123.45,"symbol":"ACME"}`)
	rt0 := roundTrips(a, r)
	b.ResetTimer()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var pos uint64
		var buf []*msglog.Entry
		timeout := time.After(time.Minute)
		for pos < uint64(b.N) {
			bt := rl.Read(pos, buf, 256)
			buf = bt.Entries[:0]
			if bt.Missed {
				pos = bt.MissedTo
			}
			if n := len(bt.Entries); n > 0 {
				pos = bt.Entries[n-1].Seq
				continue
			}
			select {
			case <-bt.Wait:
			case <-timeout:
				return
			}
		}
	}()
	for i := 0; i < b.N; i++ {
		w.Append(msg.Message{Data: payload})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric((roundTrips(a, r)-rt0)/float64(b.N), "roundtrips/msg")
}

// BenchmarkMemoryLogLatency is the in-memory baseline for comparison.
func BenchmarkMemoryLogLatency(b *testing.B) {
	l := msglog.New(msglog.Options{Epoch: "e", Capacity: 1024})
	payload := []byte(`{"price":123.45,"symbol":"ACME"}`)
	done := make(chan struct{})
	next := make(chan struct{})
	go func() {
		defer close(done)
		var pos uint64
		var buf []*msglog.Entry
		for pos < uint64(b.N) {
			bt := l.Read(pos, buf, 64)
			buf = bt.Entries[:0]
			if n := len(bt.Entries); n > 0 {
				pos = bt.Entries[n-1].Seq
				next <- struct{}{}
				continue
			}
			<-bt.Wait
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Append(msg.Message{Data: payload})
		<-next
	}
	<-done
}
