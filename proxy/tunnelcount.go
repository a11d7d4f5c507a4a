package proxy

// AddWritten counts bytes a tunnel wrote straight to the socket under this
// wrapper (reached through NetConn), so the access log's byte count of a
// hijacked connection stays whole. The pass-through tunnel
// (passthrough/relay.go) writes that way to skip the syscall bookkeeping of
// a net.Conn write.
func (c *countingConn) AddWritten(n int64) { c.written.Add(n) }
