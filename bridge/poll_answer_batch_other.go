//go:build !linux

package bridge

// answerBatch answers each poll at once where there is no io_uring.
type answerBatch struct{}

func (*answerBatch) add(p *parkedPoll) { p.answer() }
func (*answerBatch) end()              {}
