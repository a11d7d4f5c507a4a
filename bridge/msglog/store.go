package msglog

import (
	"context"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// Store is everything the bridge and Reader need of a log. *Log is the
// in-memory implementation; the cluster's Redis Streams log is another, so
// nothing above this interface changes when state moves to Redis.
type Store interface {
	msg.Sink
	// Epoch names this log instance in its cursors.
	Epoch() string
	// CursorAt formats the cursor of position seq.
	CursorAt(seq uint64) string
	// Read returns up to max entries after position after (see Log.Read).
	Read(after uint64, dst []*Entry, max int) Batch
	// Bounds returns the oldest retained seq (or next when empty) and the
	// newest seq (0 when nothing was appended).
	Bounds() (first, last uint64)
	// LatestMessage is the position just before the newest message.
	LatestMessage() uint64
	// Ack records that the client has everything up to seq.
	Ack(seq uint64)
	// Close ends the log; the first info wins.
	Close(info msg.CloseInfo)
	// Closed reports whether the log ended, and why.
	Closed() (bool, msg.CloseInfo)
	// CatchUp makes sure the log holds position seq, which a cursor from
	// another instance may name before this instance's mirror has it.
	// ErrCursorAhead when the log has no such position.
	CatchUp(ctx context.Context, seq uint64) error
}

var _ Store = (*Log)(nil)

// CatchUp: an in-memory log holds all it ever will; a cursor past its end
// is ResumeReader's to refuse.
func (l *Log) CatchUp(context.Context, uint64) error { return nil }
