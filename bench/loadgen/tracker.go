package loadgen

import (
	"bytes"
	"sync/atomic"
	"time"
)

// maxTrackedSeq bounds each subscriber's seen-set (a bitset of 1 bit per
// sequence number): 16M messages is far beyond any run of this tool.
const maxTrackedSeq = 1 << 24

// tracker is one subscriber's account of what it received. It is owned by
// the subscriber's goroutine; the run reads it only after that goroutine
// ended, except for the atomics used to watch progress.
type tracker struct {
	run  []byte
	hist *histogram  // shared per transport
	live *liveCounts // shared by the whole run

	seen     []uint64 // bitset over sequence numbers
	unique   uint64
	dups     uint64
	outOfOrd uint64
	foreign  uint64        // not a payload of this run (snapshot of an older run, other traffic)
	gaps     uint64        // explicit gap markers from the server
	maxSeq   []uint64      // highest sequence number seen, per publisher
	highest  atomic.Uint64 // highest of all, read by the run to see who caught up
	highSeen uint64        // highest of all, this goroutine's copy
	// Counted by record, not yet added to live (flushLive).
	pendDeliver, pendUnique uint64
	pendNanos               int64
	connected               bool
	// connectedFlag mirrors connected for the run's goroutine.
	connectedFlag atomic.Bool
	pollCycling   bool // a poll answer carried a message: answers count as cycles
	err           error
}

// liveCounts lets the run watch progress while subscribers are running.
type liveCounts struct {
	unique    atomic.Uint64 // first deliveries of a sequence number, all subscribers
	deliver   atomic.Uint64 // every delivery including duplicates
	connected atomic.Int64
	failed    atomic.Int64
	dropped   atomic.Int64 // connections that ended before the run did
	lastNanos atomic.Int64 // time of the latest first delivery
	// pollCycles counts long-poll answers from each poller's first one that
	// carried a message on (see pollAnswered).
	pollCycles atomic.Uint64
}

// newTracker makes a tracker for a run with publishers concurrent
// publishers: publisher j sends sequence numbers j+1, j+1+publishers, ...,
// so order is checked within each publisher's own stream (concurrent
// publishes have no order between them).
func newTracker(run string, hist *histogram, live *liveCounts, publishers int) *tracker {
	if publishers < 1 {
		publishers = 1
	}
	return &tracker{run: []byte(run), hist: hist, live: live, maxSeq: make([]uint64, publishers)}
}

// deliver records one received payload and publishes the progress counts.
func (t *tracker) deliver(p []byte, now time.Time) {
	t.record(p, now)
	t.flushLive()
}

// record counts one received payload; the run sees it after flushLive
// (once per read: the shared counters are not touched per message).
func (t *tracker) record(p []byte, now time.Time) {
	if !bytes.HasPrefix(p, []byte(payloadMagic)) {
		// A server that wraps the payload (Centrifugo's JSON push) still
		// carries it verbatim: ASCII needs no escaping in a JSON string.
		if i := bytes.Index(p, []byte(payloadMagic)); i > 0 {
			p = p[i:]
		}
	}
	run, seq, sent, err := parsePayload(p)
	if err != nil || !bytes.Equal(run, t.run) || seq == 0 || seq >= maxTrackedSeq {
		t.foreign++
		return
	}
	t.pendDeliver++
	word, bit := seq/64, uint64(1)<<(seq%64)
	for uint64(len(t.seen)) <= word {
		t.seen = append(t.seen, 0)
	}
	if t.seen[word]&bit != 0 {
		t.dups++
		return
	}
	t.seen[word] |= bit
	t.unique++
	stream := (seq - 1) % uint64(len(t.maxSeq))
	if seq < t.maxSeq[stream] {
		t.outOfOrd++
	} else {
		t.maxSeq[stream] = seq
	}
	if seq > t.highSeen {
		t.highSeen = seq
	}
	nowNanos := now.UnixNano()
	t.hist.add(time.Duration(nowNanos - sent))
	t.pendUnique++
	t.pendNanos = nowNanos
}

// flushLive publishes what record counted since the last flush.
func (t *tracker) flushLive() {
	if t.pendDeliver > 0 {
		t.live.deliver.Add(t.pendDeliver)
		t.pendDeliver = 0
	}
	if t.pendUnique > 0 {
		if t.highSeen > t.highest.Load() { // one writer: this goroutine
			t.highest.Store(t.highSeen)
		}
		t.live.unique.Add(t.pendUnique)
		t.live.lastNanos.Store(t.pendNanos)
		t.pendUnique = 0
	}
}

// pollAnswered counts a poll cycle: an answer, from the poller's first one
// that carried a message on. The subscribe that bridgeway answers at once
// before anything is published (its cursor) and the poll each poller
// leaves parked at the end are no cycles of the publishing window, and
// nchan has the second but not the first: counting requests made
// bridgeway's cycles read 1.05× nchan's with the same work done.
func (t *tracker) pollAnswered(carried bool) {
	if carried {
		t.pollCycling = true
	}
	if t.pollCycling {
		t.live.pollCycles.Add(1)
	}
}

// markConnected is called once the server has accepted the subscription.
func (t *tracker) markConnected() {
	if !t.connected {
		t.connected = true
		t.connectedFlag.Store(true)
		t.live.connected.Add(1)
	}
}
