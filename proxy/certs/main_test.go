package certs

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// leakWait bounds the wait for goroutines that end on their own: certmagic's
// storage lock refresher (keepLockfileFresh) sleeps 5 s between checks and
// exits once the lock file is gone. Waiting for it proves it ends.
const leakWait = 15 * time.Second

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		opts := []goleak.Option{
			// certmagic keeps one rate limiter per CA+account in a
			// package-level map and never stops it (a TODO in certmagic's
			// acmeclient.go): the one goroutine we cannot stop.
			goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
		}
		deadline := time.Now().Add(leakWait)
		err := goleak.Find(opts...)
		for err != nil && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			err = goleak.Find(opts...)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
