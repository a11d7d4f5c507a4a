//go:build !linux

package main

import "time"

// monotonicNow: systemd only runs on Linux; elsewhere NOTIFY_SOCKET is never
// set and the value is not used.
func monotonicNow() time.Duration { return 0 }
