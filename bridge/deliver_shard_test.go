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
	defer bridge.SetShardMin(1)()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	TestBroadcastFanOutOverMixedTransports(t)
}
