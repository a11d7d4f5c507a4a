package certs

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// certmagic keeps one rate limiter per CA+account in a package-level
		// map and never stops it (a TODO in certmagic's acmeclient.go).
		goleak.IgnoreTopFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
	)
}
