package pebbletest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// leakWait bounds the wait for goroutines that end on their own: certmagic's
// storage lock refresher (keepLockfileFresh) sleeps 5 s between checks and
// exits once its lock file is gone.
const leakWait = 15 * time.Second

// CertmagicLeakOptions ignores the one certmagic goroutine nobody can stop:
// a rate limiter per CA+account kept in a package-level map forever (a TODO
// in certmagic's acmeclient.go).
func CertmagicLeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
	}
}

// VerifyTestMain is goleak.VerifyTestMain for packages whose tests run
// certmagic (through proxy/certs): after the tests pass it waits up to 15 s
// for goroutines that end by themselves (certmagic's lock refreshers), then
// fails on any left, except CertmagicLeakOptions and opts.
func VerifyTestMain(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	if code == 0 {
		opts = append(CertmagicLeakOptions(), opts...)
		deadline := time.Now().Add(leakWait)
		err := goleak.Find(opts...)
		for err != nil && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			err = goleak.Find(opts...)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
