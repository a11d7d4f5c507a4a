// Package msglog is the ordered, bounded log at the centre of the bridge:
// upstream adapters append, client transports read from a cursor and wait
// for more. One Log backs a session or a topic. It knows nothing of HTTP.
//
// Waiting readers are woken by closing a channel that is replaced on every
// change: one allocation per append however many readers wait, and no
// per-reader queue that a slow reader could fill.
package msglog

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// Kind tells a message entry from a gap marker.
type Kind uint8

const (
	// KindMessage is a message from the upstream.
	KindMessage Kind = iota
	// KindGap marks messages the upstream lost (a reconnect without resume).
	KindGap
)

// Format names a cached encoding of an entry.
type Format int

const (
	// FormatSSE is the entry as an SSE event.
	FormatSSE Format = iota
	// FormatJSON is the entry as a JSON message object.
	FormatJSON
	numFormats
)

// Entry is one retained position of the log. Entries are immutable once
// appended except for their lazily filled encoding cache.
type Entry struct {
	Seq  uint64
	Kind Kind
	Msg  msg.Message
	// Cursor is "<epoch>-<Seq>".
	Cursor string
	// GapReason says why the upstream lost messages (KindGap only).
	GapReason string
	// PrevCursor is the cursor just before this entry ("<epoch>-<Seq-1>").
	PrevCursor string
	size       int64
	enc        [numFormats]atomic.Pointer[[]byte]
}

// Encoded returns the entry in format f, made by fn on first use and shared
// by every later reader.
func (e *Entry) Encoded(f Format, fn func(*Entry) []byte) []byte {
	if p := e.enc[f].Load(); p != nil {
		return *p
	}
	b := fn(e)
	e.enc[f].CompareAndSwap(nil, &b)
	return *e.enc[f].Load()
}

// Options configure a Log.
type Options struct {
	// Epoch names this log instance in cursors.
	Epoch string
	// Capacity is the number of entries retained (route buffer). Minimum 1.
	Capacity int
	// MaxBytes bounds the retained payload bytes; 0 means no byte bound.
	MaxBytes int64
	// AckWait turns on flow control (session mode): when the log is full
	// and its oldest entry was not yet acknowledged (Ack), Append waits up
	// to AckWait for the client to catch up before evicting. This turns a
	// burst into backpressure on the upstream instead of a gap, while a
	// client that stays stuck still cannot hold memory or the upstream
	// for longer. Zero: never wait (broadcast: a slow subscriber must
	// not delay the others).
	AckWait time.Duration
	// OnEvict is called (under the log's lock, keep it cheap) with the number
	// of message entries dropped to make room.
	OnEvict func(n int)
}

// maxEpochInline sizes the stack scratch used to format cursors.
const maxEpochInline = 64

// Log is safe for concurrent use by one appender and many readers.
type Log struct {
	epoch    string
	capacity int
	maxBytes int64
	onEvict  func(int)
	ackWait  time.Duration

	mu     sync.Mutex
	ring   []*Entry
	head   int // index of the oldest retained entry
	count  int
	bytes  int64
	next   uint64 // seq of the next append; seqs start at 1
	closed bool
	info   msg.CloseInfo
	wake   chan struct{}
	acked  uint64 // highest position the client acknowledged
	// stalled is set when a wait for acks timed out: later appends evict
	// at once until the client acknowledges something again.
	stalled bool
	space   chan struct{} // closed when acked advances or the log closes
}

// New makes an empty log.
func New(opts Options) *Log {
	if opts.Capacity < 1 {
		opts.Capacity = 1
	}
	return &Log{
		epoch:    opts.Epoch,
		capacity: opts.Capacity,
		maxBytes: opts.MaxBytes,
		onEvict:  opts.OnEvict,
		ackWait:  opts.AckWait,
		next:     1,
		wake:     make(chan struct{}),
		// ring starts nil and grows on push: an idle session holds none.
	}
}

// Epoch returns the epoch used in this log's cursors.
func (l *Log) Epoch() string { return l.epoch }

// CursorAt formats the cursor of position seq in this log.
func (l *Log) CursorAt(seq uint64) string { return string(wire.AppendCursor(nil, l.epoch, seq)) }

// Append adds a message (msg.Sink).
func (l *Log) Append(m msg.Message) { l.add(KindMessage, m, "") }

// Gap records that the upstream lost messages (msg.Sink).
func (l *Log) Gap(reason string) { l.add(KindGap, msg.Message{}, reason) }

func (l *Log) add(kind Kind, m msg.Message, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waitForSpace()
	if l.closed {
		return
	}
	seq := l.next
	// Both cursors in one string: one allocation instead of four.
	var scratch [2 * (maxEpochInline + 21)]byte
	buf := wire.AppendCursor(scratch[:0], l.epoch, seq)
	n := len(buf)
	both := string(wire.AppendCursor(buf, l.epoch, seq-1))
	e := &Entry{
		Seq:        seq,
		Kind:       kind,
		Msg:        m,
		GapReason:  reason,
		Cursor:     both[:n],
		PrevCursor: both[n:],
		size:       int64(len(m.Data) + len(m.Event) + len(m.UpstreamID) + 160),
	}
	l.next++
	l.push(e)
	close(l.wake)
	l.wake = make(chan struct{})
}

// waitForSpace blocks (lock released) while flow control says the oldest
// entry is still unacknowledged, at most ackWait. Called with l.mu held.
func (l *Log) waitForSpace() {
	if l.ackWait <= 0 || l.stalled {
		return
	}
	var timer *time.Timer
	// The oldest retained seq is next-count: no read of a cold entry.
	for !l.closed && l.count >= l.capacity && l.next-uint64(l.count) > l.acked {
		if timer == nil {
			timer = time.NewTimer(l.ackWait)
			defer timer.Stop()
		}
		if l.space == nil {
			l.space = make(chan struct{})
		}
		space := l.space
		l.mu.Unlock()
		select {
		case <-space:
			l.mu.Lock()
		case <-timer.C:
			l.mu.Lock()
			l.stalled = true
			return
		}
	}
}

// Ack records that the client has everything up to seq (it sent that
// cursor back, or a stream wrote it out), so those entries may be evicted
// without loss.
func (l *Log) Ack(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq <= l.acked {
		return
	}
	l.acked = seq
	l.stalled = false
	if l.space != nil {
		close(l.space)
		l.space = nil
	}
}

// push stores e, evicting the oldest entries beyond capacity or bytes.
func (l *Log) push(e *Entry) {
	evicted := 0
	for l.count > 0 && (l.count >= l.capacity || (l.maxBytes > 0 && l.bytes+e.size > l.maxBytes)) {
		old := l.ring[l.head]
		l.ring[l.head] = nil
		l.bytes -= old.size
		l.head = (l.head + 1) % len(l.ring)
		l.count--
		if old.Kind == KindMessage {
			evicted++
		}
	}
	if l.count < len(l.ring) {
		l.ring[(l.head+l.count)%len(l.ring)] = e
	} else if len(l.ring) < l.capacity {
		// Full but below capacity: grow by doubling (idle sessions stay
		// small), re-linearised. Every slot counts in len(l.ring), so the
		// next pushes fill the new room instead of growing again.
		grown := make([]*Entry, min(max(2*len(l.ring), 8), l.capacity))
		for i := 0; i < l.count; i++ {
			grown[i] = l.ring[(l.head+i)%len(l.ring)]
		}
		grown[l.count] = e
		l.ring = grown
		l.head = 0
	}
	l.count++
	l.bytes += e.size
	if evicted > 0 && l.onEvict != nil {
		l.onEvict(evicted)
	}
}

// Close ends the log: readers that have everything get info. Idempotent;
// the first info wins.
func (l *Log) Close(info msg.CloseInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	l.info = info
	close(l.wake)
	if l.space != nil {
		close(l.space)
		l.space = nil
	}
}

// Closed reports whether Close was called, and its info.
func (l *Log) Closed() (bool, msg.CloseInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed, l.info
}

// Bounds returns the seq of the oldest retained entry (or next when empty)
// and the seq of the newest (0 when nothing was ever appended).
func (l *Log) Bounds() (first, last uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - uint64(l.count), l.next - 1
}

// LatestMessage returns the seq just before the newest retained message
// entry, so that reading from it yields that message (a snapshot), or the
// last seq when there is none.
func (l *Log) LatestMessage() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count > 0 {
		e := l.ring[(l.head+l.count-1)%len(l.ring)]
		if e.Kind == KindMessage {
			return e.Seq - 1
		}
	}
	return l.next - 1
}

// Batch is what one Read returns.
type Batch struct {
	// Entries after the position, oldest first.
	Entries []*Entry
	// Missed is set when entries after the position were evicted: they are
	// lost to this reader up to and including MissedTo.
	Missed   bool
	MissedTo uint64
	// Closed is set when the log is closed and the reader has everything.
	Closed bool
	Info   msg.CloseInfo
	// Wait is closed at the next change; only set when Entries is empty and
	// the log is not closed.
	Wait <-chan struct{}
}

// Read returns up to max entries after position after, appending them to dst
// (pass a reused slice to read without allocating).
func (l *Log) Read(after uint64, dst []*Entry, max int) Batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := Batch{Entries: dst[:0]}
	first := l.next - uint64(l.count)
	from := after + 1
	if from < first {
		b.Missed, b.MissedTo = true, first-1
		from = first
	}
	for seq := from; seq < l.next && len(b.Entries) < max; seq++ {
		idx := (l.head + int(seq-first)) % len(l.ring)
		b.Entries = append(b.Entries, l.ring[idx])
	}
	if len(b.Entries) == 0 && !b.Missed {
		if l.closed {
			b.Closed, b.Info = true, l.info
		} else {
			b.Wait = l.wake
		}
	}
	return b
}
