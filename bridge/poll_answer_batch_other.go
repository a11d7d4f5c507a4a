//go:build !linux

package bridge

// answerBatch answers each poll at once where there is no io_uring
// (poll_answer_batch_linux.go, poll_next_batch_linux.go).
type answerBatch struct{}

func (*answerBatch) add(p *parkedPoll) { p.answer() }
func (*answerBatch) end()              {}

// readBatch reads each next poll at once where there is no io_uring.
type readBatch struct{}

var nextReads readBatch

func (*readBatch) add(nc *nextConn) { nc.take() }
