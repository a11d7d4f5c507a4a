package bridge_test

import (
	"runtime"
	"testing"

	"github.com/bridgeway/bridgeway/bridge"
)

// TestShardedRoundsDeliverEveryMessageOnceInOrder: with every round of
// the fan-out split across goroutines (a part per member, four parts),
// each subscriber of every transport still gets every message once, in
// order.
func TestShardedRoundsDeliverEveryMessageOnceInOrder(t *testing.T) {
	// Restored after the gateway closed (cleanups run last-registered
	// first): a deferred restore raced with the fan-out's last round.
	t.Cleanup(bridge.SetShardMin(1))
	old := runtime.GOMAXPROCS(4)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
	TestBroadcastFanOutOverMixedTransports(t)
}
