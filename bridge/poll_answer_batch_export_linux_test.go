package bridge

import "github.com/bridgeway/bridgeway/internal/uring"

// SetBatchPollIO turns sending parked polls' answers and reading next
// polls in batches on or off; it returns a func restoring the old value.
func SetBatchPollIO(on bool) func() {
	old := batchPollIO.Swap(on)
	return func() { batchPollIO.Store(old) }
}

// NextReadsBatched counts the next polls read in batches since the process
// started.
func NextReadsBatched() int64 { return nextReadsBatched.Load() }

// AnswersBatched counts the parked polls' answers sent in batches since
// the process started.
func AnswersBatched() int64 { return answersBatched.Load() }

// BatchesUnusable says why answers cannot be sent in batches here, or nil.
func BatchesUnusable() error {
	if s := uring.GetBatch(); s != nil {
		s.Release()
	}
	return uring.BatchesUnusable()
}
