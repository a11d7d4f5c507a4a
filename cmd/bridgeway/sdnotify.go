package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"go.uber.org/zap"
)

// systemd's notify protocol (sd_notify(3)), for Type=notify units: a
// datagram of NAME=VALUE lines to the unix socket named by NOTIFY_SOCKET.
// It is small enough not to need a library. Without NOTIFY_SOCKET (not
// started by systemd) nothing is sent.
const (
	sdReady    = "READY=1"
	sdStopping = "STOPPING=1"
)

// sdReloading starts a reload; systemd wants the CLOCK_MONOTONIC time with
// it (since v253) and waits for the next READY=1.
func sdReloading() string {
	return fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicNow()/time.Microsecond)
}

// sdNotify sends one state datagram. A leading @ in the address names an
// abstract socket, which Go's net package understands as it is.
func sdNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}

// notifySystemd is sdNotify for the run loop: a failure is logged, never
// fatal (the gateway serves either way).
func notifySystemd(logger *zap.Logger, state string) {
	if err := sdNotify(state); err != nil {
		logger.Warn("cannot notify systemd", zap.Error(err))
	}
}
