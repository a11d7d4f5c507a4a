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

// BenchmarkSessionEcho is a session's log in an echo: one append, one read
// and one ack per message, on a route-sized ring (buffer 1024). It covers
// the ring's growth from empty as well as its steady state.
func BenchmarkSessionEcho(b *testing.B) {
	payload := make([]byte, 128)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%4096 == 0 {
			b.StopTimer()
			l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 1024, AckWait: 1})
			rd := msglog.NewReader(l, 0)
			sessionEchoLog, sessionEchoReader = l, rd
			b.StartTimer()
		}
		sessionEchoLog.Append(msg.Message{Data: payload})
		res := sessionEchoReader.Next(64)
		sessionEchoLog.Ack(res.Entries[len(res.Entries)-1].Seq)
	}
}

var (
	sessionEchoLog    *msglog.Log
	sessionEchoReader *msglog.Reader
)
