package msglog

import (
	"errors"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// ErrCursorAhead is returned for a cursor of this log past its newest entry.
var ErrCursorAhead = errors.New("msglog: cursor is ahead of the log")

// Gap is a stretch of messages lost to one reader: everything after From up
// to and including To.
type Gap struct {
	From, To string
	// ToSeq is the seq of To in this log.
	ToSeq uint64
	// Overrun is set when the reader fell behind the retained buffer (as
	// opposed to an upstream gap or a cursor from an older epoch).
	Overrun bool
	Reason  string
}

// Reader follows a log from a position. Not safe for concurrent use: each
// client connection owns one.
type Reader struct {
	log  Store
	pos  uint64
	from string // pending gap start for a cursor of an older epoch
	buf  []*Entry
}

// NewReader starts after position pos of the log (0: from the beginning).
func NewReader(l Store, pos uint64) *Reader {
	return &Reader{log: l, pos: pos}
}

// ResumeReader starts after cursor c. A cursor of another epoch (an older
// incarnation of a topic) yields a gap from c to the start of what is
// retained; a cursor past the newest entry is an error.
func ResumeReader(l Store, c wire.Cursor) (*Reader, error) {
	if c.Epoch != l.Epoch() {
		first, _ := l.Bounds()
		return &Reader{log: l, pos: first - 1, from: c.String()}, nil
	}
	if _, last := l.Bounds(); c.Seq > last {
		return nil, ErrCursorAhead
	}
	return &Reader{log: l, pos: c.Seq}, nil
}

// Log returns the log read.
func (r *Reader) Log() Store { return r.log }

// Pos is the seq of the last entry consumed.
func (r *Reader) Pos() uint64 { return r.pos }

// Cursor is the cursor of the last entry consumed.
func (r *Reader) Cursor() string { return r.log.CursorAt(r.pos) }

// Result of one Next call.
type Result struct {
	// Gap, when set, comes before Entries.
	Gap     *Gap
	Entries []*Entry
	Closed  bool
	Info    msg.CloseInfo
	Wait    <-chan struct{}
}

// Next returns what follows the reader's position (at most max entries) and
// advances past it. Entries may include KindGap markers, rendered by the
// transport as gaps. The returned slice is reused by the next call.
func (r *Reader) Next(max int) Result {
	b := r.log.Read(r.pos, r.buf, max)
	r.buf = b.Entries[:0]
	var res Result
	if r.from != "" {
		first, _ := r.log.Bounds()
		to := b.MissedTo
		if !b.Missed {
			to = first - 1
			if to < r.pos {
				to = r.pos
			}
		}
		res.Gap = &Gap{From: r.from, To: r.log.CursorAt(to), ToSeq: to, Reason: "stale cursor"}
		r.from = ""
	} else if b.Missed {
		res.Gap = &Gap{From: r.log.CursorAt(r.pos), To: r.log.CursorAt(b.MissedTo), ToSeq: b.MissedTo, Overrun: true, Reason: "buffer overrun"}
	}
	if b.Missed {
		r.pos = b.MissedTo
	}
	res.Entries = b.Entries
	if n := len(b.Entries); n > 0 {
		r.pos = b.Entries[n-1].Seq
	}
	res.Closed, res.Info, res.Wait = b.Closed, b.Info, b.Wait
	return res
}

// Rewind moves the reader back to just after seq (used by long-poll, which
// returns fewer entries than it read).
func (r *Reader) Rewind(seq uint64) { r.pos = seq }
