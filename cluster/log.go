package cluster

import (
	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
)

// Log is what the bridge needs of a session's or topic's log: exactly the
// method set of *msglog.Log, so the in-memory log and the Redis-backed
// StreamLog are interchangeable. (msglog.Reader reads through Read, Bounds,
// CursorAt and Epoch; see docs/cluster.md for the change it needs.)
type Log interface {
	msg.Sink
	Epoch() string
	CursorAt(seq uint64) string
	Read(after uint64, dst []*msglog.Entry, max int) msglog.Batch
	Bounds() (first, last uint64)
	LatestMessage() uint64
	Ack(seq uint64)
	Close(info msg.CloseInfo)
	Closed() (bool, msg.CloseInfo)
}

// Compile-time guards: both logs satisfy Log.
var (
	_ Log = (*msglog.Log)(nil)
	_ Log = (*StreamLog)(nil)
)

// CloseStateLost is the close code clients see when the cluster state of a
// log was lost or replaced (Redis restarted empty and another instance
// started a new incarnation): like WebSocket 1012 "service restart", the
// client reconnects with its cursor and gets an explicit gap.
const CloseStateLost = 1012
