package loadgen

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts latencies in microseconds in log-linear buckets (16 per
// power of two, so a reported quantile is within ~6% of the true value).
// It is safe for concurrent use; adding is one atomic increment.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	max     atomic.Int64 // exact maximum in nanoseconds
}

const (
	histSubBits = 4 // 16 linear sub-buckets per power of two
	histSub     = 1 << histSubBits
	histBuckets = 64 * histSub
)

func bucketOf(us uint64) int {
	if us < 2*histSub {
		return int(us)
	}
	e := bits.Len64(us) - (histSubBits + 1)
	return e*histSub + int(us>>uint(e))
}

// bucketLow is the smallest value of bucket b (inverse of bucketOf).
func bucketLow(b int) uint64 {
	if b < 2*histSub {
		return uint64(b)
	}
	e := b/histSub - 1
	m := b - e*histSub
	return uint64(m) << uint(e)
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0 // clocks of one process; negative only through rounding
	}
	us := uint64(d / time.Microsecond)
	b := bucketOf(us)
	if b >= histBuckets {
		b = histBuckets - 1
	}
	h.buckets[b].Add(1)
	for {
		old := h.max.Load()
		if int64(d) <= old || h.max.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// merge adds o's counts into h.
func (h *histogram) merge(o *histogram) {
	for i := range o.buckets {
		if n := o.buckets[i].Load(); n > 0 {
			h.buckets[i].Add(n)
		}
	}
	for {
		old, m := h.max.Load(), o.max.Load()
		if m <= old || h.max.CompareAndSwap(old, m) {
			return
		}
	}
}

func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.buckets {
		n += h.buckets[i].Load()
	}
	return n
}

// quantile returns the q-quantile (0 < q <= 1) as the middle of its bucket.
func (h *histogram) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			lo, hi := bucketLow(i), bucketLow(i+1)
			mid := time.Duration(lo+hi) * time.Microsecond / 2
			if mx := time.Duration(h.max.Load()); mid > mx {
				return mx
			}
			return mid
		}
	}
	return time.Duration(h.max.Load())
}

// Latency is a latency summary in microseconds (JSON-friendly).
type Latency struct {
	Count uint64  `json:"count"`
	P50us float64 `json:"p50_us"`
	P90us float64 `json:"p90_us"`
	P99us float64 `json:"p99_us"`
	MaxUs float64 `json:"max_us"`
}

func (h *histogram) summary() Latency {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return Latency{
		Count: h.count(),
		P50us: us(h.quantile(0.50)),
		P90us: us(h.quantile(0.90)),
		P99us: us(h.quantile(0.99)),
		MaxUs: us(time.Duration(h.max.Load())),
	}
}
