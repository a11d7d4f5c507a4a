//go:build !linux

package bridge

// streamBatch writes each subscriber's frames at once where there is no
// io_uring (stream_batch_linux.go).
type streamBatch struct{}

func (*streamBatch) slotFor(*fanSub) *[]byte                { return nil }
func (*streamBatch) keep(*fanSub, *[]byte, bool, bool) bool { return false }
func (*streamBatch) full() bool                             { return false }
func (*streamBatch) send(*fanout)                           {}
func (*streamBatch) end(*fanout)                            {}
