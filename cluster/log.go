package cluster

import (
	"github.com/bridgeway/bridgeway/bridge/msglog"
)

// Log is what the bridge needs of a session's or topic's log:
// msglog.Store, which the in-memory *msglog.Log and the Redis-backed
// *StreamLog both satisfy, so the bridge takes either and msglog.Reader
// reads both.
type Log = msglog.Store

// Compile-time guards: both logs satisfy the bridge's interface.
var (
	_ msglog.Store = (*msglog.Log)(nil)
	_ msglog.Store = (*StreamLog)(nil)
)

// CloseStateLost is the close code clients see when the cluster state of a
// log was lost or replaced (Redis restarted empty and another instance
// started a new incarnation): like WebSocket 1012 "service restart", the
// client reconnects with its cursor and gets an explicit gap.
const CloseStateLost = 1012
