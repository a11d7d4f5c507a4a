package cluster

import (
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
)

// This file is the instance-local mirror of a StreamLog, what readers see:
// at most Capacity entries (and MaxBytes), fed by the tailer, the initial
// load, CatchUp and this instance's own appends.

func (l *StreamLog) newEntry(seq uint64, kind msglog.Kind, m msg.Message, reason string) *msglog.Entry {
	return &msglog.Entry{
		Seq:        seq,
		Kind:       kind,
		Msg:        m,
		GapReason:  reason,
		Cursor:     l.CursorAt(seq),
		PrevCursor: l.CursorAt(seq - 1),
	}
}

// ingest adds entries read from the stream (tailer goroutine, or the
// initial load), skipping what the mirror has. A jump in seqs (the mirror
// fell behind MAXLEN, or entries were lost with Redis) becomes a gap.
func (l *StreamLog) ingest(msgs []redis.XMessage) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	changed := false
	var closeInfo *msg.CloseInfo
	for _, xm := range msgs {
		seq, ok := parseSeq(xm.ID)
		if !ok || seq < l.next {
			continue
		}
		if str(xm.Values, "p") != l.epoch {
			closeInfo = &msg.CloseInfo{Code: CloseStateLost, Reason: "cluster state lost"}
			break
		}
		kind := str(xm.Values, "k")
		if kind == "c" {
			code, _ := strconv.Atoi(str(xm.Values, "code"))
			closeInfo = &msg.CloseInfo{Code: code, Reason: str(xm.Values, "r")}
			l.next = seq + 1
			break
		}
		var e *msglog.Entry
		if kind == "g" {
			e = l.newEntry(seq, msglog.KindGap, msg.Message{}, str(xm.Values, "r"))
		} else {
			m := msg.Message{Data: []byte(str(xm.Values, "d")), Event: str(xm.Values, "e"), Binary: str(xm.Values, "b") == "1"}
			e = l.newEntry(seq, msglog.KindMessage, m, "")
		}
		if seq > l.next {
			if e.Kind == msglog.KindGap {
				e.PrevCursor = l.CursorAt(l.next - 1) // widen it over the hole
			} else {
				hole := l.newEntry(seq-1, msglog.KindGap, msg.Message{}, "messages lost in the cluster")
				hole.PrevCursor = l.CursorAt(l.next - 1)
				l.pushLocked(hole)
			}
		}
		l.pushLocked(e)
		changed = true
	}
	if changed {
		l.notifyLocked()
	}
	l.mu.Unlock()
	if closeInfo != nil {
		l.closeLocal(*closeInfo)
	}
}

// pushLocked appends e (seq >= next) and trims the mirror to capacity and
// bytes (the newest entry always stays).
func (l *StreamLog) pushLocked(e *msglog.Entry) {
	l.entries = append(l.entries, e)
	l.bytes += entrySize(e)
	l.next = e.Seq + 1
	over, evicted := 0, 0
	for n := len(l.entries); n-over > 1 && (n-over > l.capacity || (l.maxBytes > 0 && l.bytes > l.maxBytes)); over++ {
		old := l.entries[over]
		l.bytes -= entrySize(old)
		if old.Kind == msglog.KindMessage {
			evicted++
		}
	}
	if over == 0 {
		return
	}
	clear(l.entries[:over])
	l.entries = l.entries[over:]
	if cap(l.entries) > 2*l.capacity+16 {
		l.entries = append(make([]*msglog.Entry, 0, l.capacity+1), l.entries...)
	}
	if evicted > 0 && l.onEvict != nil {
		l.onEvict(evicted)
	}
}

// entrySize approximates an entry's memory like msglog does.
func entrySize(e *msglog.Entry) int64 {
	return int64(len(e.Msg.Data) + len(e.Msg.Event) + len(e.GapReason) + 160)
}

func (l *StreamLog) notifyLocked() {
	close(l.wake)
	l.wake = make(chan struct{})
}

func (l *StreamLog) closeLocal(info msg.CloseInfo) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.info = info
	close(l.wake)
	close(l.done)
	l.mu.Unlock()
	l.detach()
}

func (l *StreamLog) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Done is closed when the log closes (for every instance, or locally).
func (l *StreamLog) Done() <-chan struct{} { return l.done }

// Closed reports whether the log ended, and why.
func (l *StreamLog) Closed() (bool, msg.CloseInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed, l.info
}

// Ack is accepted for interface compatibility. Flow control (holding the
// upstream back for a slow client) is per instance in memory only; across
// the cluster a client that falls behind MAXLEN gets a gap.
func (l *StreamLog) Ack(uint64) {}

// Bounds returns the seq of the oldest mirrored entry (or next when empty)
// and of the newest (0 when nothing was appended).
func (l *StreamLog) Bounds() (first, last uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstLocked(), l.next - 1
}

func (l *StreamLog) firstLocked() uint64 {
	if len(l.entries) > 0 {
		return l.entries[0].Seq
	}
	return l.next
}

// LatestMessage returns the seq just before the newest message entry, so
// reading from it yields that message (a snapshot), or the last seq.
func (l *StreamLog) LatestMessage() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.entries); n > 0 && l.entries[n-1].Kind == msglog.KindMessage {
		return l.entries[n-1].Seq - 1
	}
	return l.next - 1
}

// Read returns up to max entries after position after, like msglog.Log.Read.
func (l *StreamLog) Read(after uint64, dst []*msglog.Entry, max int) msglog.Batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := msglog.Batch{Entries: dst[:0]}
	first := l.firstLocked()
	if after+1 < first {
		b.Missed, b.MissedTo = true, first-1
	}
	i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].Seq > after })
	for ; i < len(l.entries) && len(b.Entries) < max; i++ {
		b.Entries = append(b.Entries, l.entries[i])
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

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// parseSeq reads the seq of a "0-<seq>" stream id.
func parseSeq(id string) (uint64, bool) {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok || ms != "0" {
		return 0, false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return n, err == nil
}

func str(v map[string]any, k string) string {
	s, _ := v[k].(string)
	return s
}
