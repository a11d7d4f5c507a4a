package upstream

import (
	"math/rand/v2"
	"time"

	"github.com/bridgeway/bridgeway/config"
)

// Backoff computes reconnect delays: exponential growth with "decorrelated
// jitter" (each delay is random between Min and three times the previous
// one, capped at Max). Jitter spreads the reconnects of many topics after an
// upstream restart instead of hitting it in waves. Not safe for concurrent
// use: each retry loop owns one.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a uniform value in [0, n); nil uses math/rand/v2. Tests
	// inject a deterministic source so they never sleep.
	Rand func(n int64) int64

	prev time.Duration
}

// NewBackoff returns a Backoff between min and max.
func NewBackoff(min, max time.Duration) *Backoff {
	if min <= 0 {
		min = config.DefaultReconnectMin.D()
	}
	if max < min {
		max = min
	}
	return &Backoff{Min: min, Max: max}
}

// Next returns the delay before the next attempt; always in [Min, Max].
func (b *Backoff) Next() time.Duration {
	hi := b.prev * 3
	if hi < b.Min {
		hi = b.Min
	}
	if hi > b.Max {
		hi = b.Max
	}
	d := b.Min
	if span := int64(hi - b.Min); span > 0 {
		d += time.Duration(b.random(span + 1))
	}
	b.prev = d
	return d
}

// Reset starts again from Min, after a success.
func (b *Backoff) Reset() { b.prev = 0 }

func (b *Backoff) random(n int64) int64 {
	if b.Rand != nil {
		return b.Rand(n)
	}
	return rand.Int64N(n)
}
