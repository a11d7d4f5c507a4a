package redistest

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The server answers, is gone after Stop, and answers again (empty) on the
// same address after Restart.
func TestStartStopRestart(t *testing.T) {
	s := StartServer(t)
	addr := s.Addr()
	if err := ping(addr); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	s.Stop()
	if err := ping(addr); err == nil {
		t.Fatal("server still answers after Stop")
	}
	s.Stop() // idempotent
	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("address changed: %s → %s", addr, s.Addr())
	}
	if err := ping(addr); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
	if Start(t) == addr {
		t.Fatal("a second server got the same address")
	}
}
