// Package testdeps lets integration tests find external programs (redis-server,
// chromium, pebble). On a laptop without them a test skips; with
// BRIDGEWAY_REQUIRE_DEPS=1 (set by .ci/run) a missing program fails the test,
// because a test that silently skips in CI is a test that does not exist.
package testdeps

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether missing dependencies must fail tests.
func Required() bool { return os.Getenv("BRIDGEWAY_REQUIRE_DEPS") == "1" }

// LookPath returns the path of the first of names found on PATH, or skips
// (fails under BRIDGEWAY_REQUIRE_DEPS=1) the test when none is.
func LookPath(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	Missing(t, names[0]+" not found on PATH")
	return ""
}

// Missing skips the test, or fails it when dependencies are required.
func Missing(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("required dependency missing: %s", why)
	}
	t.Skipf("skipping: %s (set BRIDGEWAY_REQUIRE_DEPS=1 to fail instead)", why)
}
