package bridge

import "github.com/bridgeway/bridgeway/internal/uring"

// SetBatchIO turns the io_uring batches (parked polls' answers, next-poll
// reads, the fan-out's stream frames) on or off; it returns a func
// restoring the old value.
func SetBatchIO(on bool) func() {
	old := batchIO.Swap(on)
	return func() { batchIO.Store(old) }
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

// StreamsBatched counts the stream frames sent in batches since the
// process started.
func StreamsBatched() int64 { return streamsBatched.Load() }
