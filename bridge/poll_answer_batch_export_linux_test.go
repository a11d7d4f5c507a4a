package bridge

import "github.com/bridgeway/bridgeway/internal/uring"

// SetBatchAnswers turns sending parked polls' answers in batches on or
// off; it returns a func restoring the old value.
func SetBatchAnswers(on bool) func() {
	old := batchAnswers.Swap(on)
	return func() { batchAnswers.Store(old) }
}

// AnswersBatched counts the parked polls' answers sent in batches since
// the process started.
func AnswersBatched() int64 { return answersBatched.Load() }

// BatchesUnusable says why answers cannot be sent in batches here, or nil.
func BatchesUnusable() error {
	if s := uring.GetSender(); s != nil {
		s.Release()
	}
	return uring.SendersUnusable()
}
