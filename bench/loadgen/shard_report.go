package loadgen

import (
	"fmt"
	"sort"
)

// shardReport is one generator process's account of its subscribers; a
// sharded run merges one per shard process (mergeReports), a single
// process run has one.
type shardReport struct {
	// Phase: "connected", "drained" or "final" (shard_child.go).
	Phase      string         `json:"phase,omitempty"`
	Connected  int64          `json:"connected"`
	Failed     int64          `json:"failed"`
	Dropped    int64          `json:"dropped"`
	PollCycles uint64         `json:"poll_cycles"`
	LastNanos  int64          `json:"last_ns"` // latest first delivery, Unix nanoseconds
	CPUSec     float64        `json:"cpu_sec"` // the shard's own CPU while messages flowed
	Groups     []groupReport  `json:"groups,omitempty"`
	Errors     map[string]int `json:"errors,omitempty"` // error text -> subscribers that ended with it
}

// groupReport is a shard's subscribers of one transport (Latency unset:
// Hist carries the samples).
type groupReport struct {
	TransportResult
	Foreign uint64       `json:"foreign"`
	Hist    histSnapshot `json:"hist"`
}

// add sums o's subscriber and delivery counts into t.
func (t *TransportResult) add(o TransportResult) {
	t.Subs += o.Subs
	t.Connected += o.Connected
	t.Delivered += o.Delivered
	t.Lost += o.Lost
	t.Duplicated += o.Duplicated
	t.OutOfOrder += o.OutOfOrder
	t.Gaps += o.Gaps
}

// histSnapshot is a histogram in a form that crosses processes: the
// non-empty buckets and the exact maximum.
type histSnapshot struct {
	Buckets  map[int]uint64 `json:"buckets,omitempty"`
	MaxNanos int64          `json:"max_ns"`
}

func (h *histogram) snapshot() histSnapshot {
	s := histSnapshot{Buckets: map[int]uint64{}, MaxNanos: h.max.Load()}
	for i := range h.buckets {
		if n := h.buckets[i].Load(); n > 0 {
			s.Buckets[i] = n
		}
	}
	return s
}

// addSnapshot adds a snapshot's counts into h (buckets out of range are
// counted in the last one, as add does).
func (h *histogram) addSnapshot(s histSnapshot) {
	for b, n := range s.Buckets {
		if b < 0 {
			continue
		}
		h.buckets[min(b, histBuckets-1)].Add(n)
	}
	for {
		old := h.max.Load()
		if s.MaxNanos <= old || h.max.CompareAndSwap(old, s.MaxNanos) {
			return
		}
	}
}

// mergeReports fills r's subscriber counts, deliveries, losses and
// latencies from the shards' reports (r.Published must be set): transports
// in order of first appearance, latency quantiles over every shard's
// samples together, at most 8 error lines.
func (r *FanoutResult) mergeReports(reports []shardReport) {
	var all histogram
	hists := map[string]*histogram{}
	index := map[string]int{}
	errs := map[string]int{}
	r.PerTransport = nil
	for _, rep := range reports {
		r.Failed += int(rep.Failed)
		r.Dropped += int(rep.Dropped)
		r.PollCycles += rep.PollCycles
		for e, n := range rep.Errors {
			errs[e] += n
		}
		for _, g := range rep.Groups {
			i, ok := index[g.Transport]
			if !ok {
				i = len(r.PerTransport)
				index[g.Transport] = i
				hists[g.Transport] = &histogram{}
				r.PerTransport = append(r.PerTransport, TransportResult{Transport: g.Transport})
			}
			r.PerTransport[i].add(g.TransportResult)
			r.Foreign += g.Foreign
			hists[g.Transport].addSnapshot(g.Hist)
			all.addSnapshot(g.Hist)
		}
	}
	var sum TransportResult
	for i := range r.PerTransport {
		tr := &r.PerTransport[i]
		tr.Latency = hists[tr.Transport].summary()
		sum.add(*tr)
	}
	r.Connected, r.Delivered, r.Lost = sum.Connected, sum.Delivered, sum.Lost
	r.Duplicated, r.OutOfOrder, r.Gaps = sum.Duplicated, sum.OutOfOrder, sum.Gaps
	r.Expected = uint64(r.Connected) * r.Published
	r.Latency = all.summary()
	r.Errors = nil
	for e, n := range errs {
		r.Errors = append(r.Errors, fmt.Sprintf("%dx %s", n, e))
	}
	sort.Strings(r.Errors)
	if len(r.Errors) > 8 {
		r.Errors = r.Errors[:8]
	}
}
