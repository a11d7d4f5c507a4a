package rawsock

// Readable is told that its socket has something to read (bytes, EOF or an
// error). It is called on the poller's goroutine and must not wait.
type Readable interface{ Readable() }
