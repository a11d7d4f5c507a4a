package msglog_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

func encodeForBench(e *msglog.Entry) []byte {
	return wire.AppendSSE(make([]byte, 0, len(e.Msg.Data)+64), e.Cursor, e.Msg.Event, e.Msg.Data)
}

// BenchmarkFanout appends b.N messages to one log read by N in-memory
// readers that each take the message's (shared, encode-once) SSE bytes. It
// reports allocations per delivered message: the per-append cost (entry,
// cursor, SSE bytes, wake channel) divided by N, and nothing per reader.
func BenchmarkFanout(b *testing.B) {
	for _, readers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 4096})
			payload := []byte(`{"price":123.45,"symbol":"ACME"}`)
			var wg sync.WaitGroup
			var delivered [1]int64
			var mu sync.Mutex
			start := make(chan struct{})
			for range readers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rd := msglog.NewReader(l, 0)
					<-start
					n, bytes := 0, 0
					for {
						res := rd.Next(256)
						for _, e := range res.Entries {
							bytes += len(e.Encoded(msglog.FormatSSE, encodeForBench))
							n++
						}
						if res.Closed {
							break
						}
						if len(res.Entries) == 0 && res.Gap == nil {
							<-res.Wait
						}
					}
					mu.Lock()
					delivered[0] += int64(n)
					mu.Unlock()
				}()
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			close(start)
			for range b.N {
				l.Append(msg.Message{Data: payload})
			}
			l.Close(msg.CloseInfo{Code: 1000})
			wg.Wait()
			b.StopTimer()
			runtime.ReadMemStats(&after)
			if delivered[0] > 0 {
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(delivered[0]), "allocs/delivery")
				b.ReportMetric(float64(delivered[0])/b.Elapsed().Seconds(), "deliveries/s")
			}
		})
	}
}
