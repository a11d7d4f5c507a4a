package bridge_test

import (
	"testing"

	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// TestParkedPollsWithoutIOURing runs the parked and next-poll tests again
// with BRIDGEWAY_IO_URING=off: each answer and each next read then takes a
// system call of its own, as on hosts without io_uring.
func TestParkedPollsWithoutIOURing(t *testing.T) {
	testdeps.WithoutIOURing(t, "^(TestParkedPoll|TestParkedJSONP|TestHeldPollWithBody|TestNextPoll|TestNextRequest|TestByteMatched)")
}
