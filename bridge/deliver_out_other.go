//go:build !unix

package bridge

import "net"

// nbWriter is unix-only; elsewhere hijacked subscribers keep a goroutine.
type nbWriter struct{}

func newNBWriter(net.Conn) *nbWriter { return nil }

func (*nbWriter) write(b []byte) (int, error) { return 0, nil }

// readable is never reached: without nbWriter a stream is handed off.
func (*nbWriter) readable() bool { return false }

func (*nbWriter) fd() (uintptr, bool) { return 0, false }

// peek and consume are never reached: without nbWriter a WebSocket
// subscriber has its reader from the start.
func (*nbWriter) peek([]byte) (int, bool) { return 0, true }

func (*nbWriter) consume([]byte) bool { return false }
