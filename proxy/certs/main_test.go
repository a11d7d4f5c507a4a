package certs

import (
	"testing"

	"github.com/bridgeway/bridgeway/internal/pebbletest"
)

func TestMain(m *testing.M) {
	// goleak, waiting for certmagic's lock refreshers to end on their own
	// and ignoring only its never-stopped rate limiter.
	pebbletest.VerifyTestMain(m)
}
