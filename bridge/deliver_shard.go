package bridge

import (
	"runtime"
	"sync"
)

// A large topic's round is split across cores: one fan-out goroutine
// writing 10,000 sockets in turn makes the last subscriber wait for all
// the others' writes. Above shardMin members per part, the round's
// members are cut into at most GOMAXPROCS contiguous parts, each stepped
// by a goroutine of its own with its own buffer and tally, and the round
// ends when every part is done: each member is still stepped once per
// round by one goroutine, so its order and exactly-once delivery are the
// single goroutine's. The parts' goroutines live for one round (owned by
// it, at most GOMAXPROCS-1).

// shardMin is the fewest members a part is worth a goroutine for.
var shardMin = 2500

// shardsFor is how many parts a round of n members is stepped in.
func shardsFor(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/shardMin))
}

// deliverSharded steps f.round in n parts, this goroutine taking the
// first.
func (f *fanout) deliverSharded(n int) (<-chan struct{}, bool) {
	for len(f.shards) < n-1 {
		f.shards = append(f.shards, fanShard{})
	}
	size := (len(f.round) + n - 1) / n
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		sh := &f.shards[i-1]
		sh.step = f.step
		sh.step.tally = &sh.tally
		part := f.round[min(i*size, len(f.round)):min((i+1)*size, len(f.round))]
		wg.Go(func() { sh.deliver(f, part) })
	}
	f.fanShard.deliver(f, f.round[:size])
	wg.Wait()
	for i := range n - 1 {
		sh := &f.shards[i]
		if sh.wait != nil {
			f.fanShard.merge(sh.wait)
		}
		f.again = f.again || sh.again
	}
	return f.wait, f.again
}
