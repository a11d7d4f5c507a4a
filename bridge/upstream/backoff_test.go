package upstream

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bridgeway/bridgeway/config"
)

func TestBackoffGrowsToMaxAndResets(t *testing.T) {
	b := NewBackoff(100*time.Millisecond, time.Second)
	b.Rand = func(n int64) int64 { return n - 1 } // always the top of the range
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
	}
	want := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, time.Second, time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays = %v, want %v", got, want)
		}
	}
	b.Reset()
	if d := b.Next(); d != 100*time.Millisecond {
		t.Errorf("after Reset: %v, want min", d)
	}
	b.Rand = func(int64) int64 { return 0 } // bottom of the range
	for range 3 {
		if d := b.Next(); d != 100*time.Millisecond {
			t.Errorf("bottom of range: %v, want min", d)
		}
	}
}

func TestBackoffStaysWithinBounds(t *testing.T) {
	b := NewBackoff(10*time.Millisecond, 250*time.Millisecond)
	var seq uint64 = 12345
	b.Rand = func(n int64) int64 { // a deterministic LCG
		seq = seq*6364136223846793005 + 1442695040888963407
		return int64(seq>>1) % n
	}
	for i := range 1000 {
		if d := b.Next(); d < b.Min || d > b.Max {
			t.Fatalf("delay %d = %v, outside [%v, %v]", i, d, b.Min, b.Max)
		}
	}
	if d := NewBackoff(0, 0).Next(); d != config.DefaultReconnectMin.D() {
		t.Errorf("zero bounds: %v, want the default min", d)
	}
}

func TestNewMetricsTwiceOnOneRegistry(t *testing.T) {
	var nilMetrics *Metrics
	inc(nilMetrics.forRoute("/r", "websocket").connects) // a nil *Metrics counts nothing
	reg := prometheus.NewRegistry()
	a, b := NewMetrics(reg), NewMetrics(reg)
	a.forRoute("/r", "websocket").connects.Inc()
	b.forRoute("/r", "websocket").connects.Inc()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "bridgeway_upstream_connects_total" {
			if v := f.GetMetric()[0].GetCounter().GetValue(); v != 2 {
				t.Errorf("connects_total = %v, want 2 (shared)", v)
			}
			return
		}
	}
	t.Error("bridgeway_upstream_connects_total not registered")
}
