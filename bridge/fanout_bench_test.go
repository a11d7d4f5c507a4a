//go:build unix

package bridge_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// BenchmarkFanoutDelivery publishes 128-byte messages to one broadcast
// topic read by N subscribers on real loopback HTTP/1.1 connections (raw
// TCP clients that only count messages), with at most 32 messages in
// flight. One op is one message delivered to all N. It reports, per
// delivered message: process CPU (getrusage; it includes the in-process
// clients and test upstream, so it over-states the gateway's share) and
// heap allocations (whole process, same caveat). shared=off is the
// goroutine-per-subscriber path, for comparison.
//
// BRIDGEWAY_FANOUT_SUBS sets N (default 1000), BRIDGEWAY_FANOUT_INFLIGHT
// the messages in flight (default 32; 1 is a paced, unbatched feed).
// allocs/msg is the same count per published message: what the
// upstream read, the log entry and its cached encoding cost once however
// many subscribers read it (the fan-out itself allocates nothing per
// subscriber).
func BenchmarkFanoutDelivery(b *testing.B) {
	subs := 1000
	if n, err := strconv.Atoi(os.Getenv("BRIDGEWAY_FANOUT_SUBS")); err == nil && n > 0 {
		subs = n
	}
	for _, transport := range []string{"sse", "stream", "websocket"} {
		for _, hijack := range []bool{false, true} {
			name := fmt.Sprintf("%s/subs=%d/shared=%v", transport, subs, map[bool]string{false: "off", true: "on"}[hijack])
			b.Run(name, func(b *testing.B) { benchFanout(b, transport, subs, hijack) })
		}
	}
}

func benchFanout(b *testing.B, transport string, subs int, hijack bool) {
	defer bridge.SetHijackStreams(hijack)()
	up := newUpstream(b)
	route := broadcastRoute(up)
	route.Buffer = 4096
	route.Heartbeat = config.Duration(time.Hour)
	g := newGateway(b, route, config.Limits{})
	request := "GET /prices/ACME/" + transport + " HTTP/1.1\r\nHost: x\r\n\r\n"
	if transport == "websocket" {
		request = "GET /prices/ACME/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	}
	var delivered atomic.Int64
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, subs)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	}()
	for range subs {
		c, err := net.Dial("tcp", g.srv.Listener.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte(request)); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 16<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					delivered.Add(int64(bytes.Count(buf[:n], []byte{'#'})))
				}
				if err != nil {
					return
				}
			}
		}()
	}
	waitFor(b, "subscribers", func() bool {
		return metricValue(b, g, "bridgeway_bridge_clients_connected", transport) == float64(subs)
	})
	payload := strings.Repeat("x", 127) + "#" // 128 bytes, one marker
	var before, after runtime.MemStats
	var ruBefore, ruAfter syscall.Rusage
	runtime.GC()
	runtime.ReadMemStats(&before)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ruBefore)
	b.ResetTimer()
	inFlight := 32
	if n, err := strconv.Atoi(os.Getenv("BRIDGEWAY_FANOUT_INFLIGHT")); err == nil && n > 0 {
		inFlight = n
	}
	for i := range b.N {
		for delivered.Load() < int64(i-inFlight)*int64(subs) {
			time.Sleep(50 * time.Microsecond)
		}
		up.publish(payload)
	}
	want := int64(b.N) * int64(subs)
	waitFor(b, "deliveries", func() bool { return delivered.Load() >= want })
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ruAfter)
	runtime.ReadMemStats(&after)
	cpu := time.Duration(syscall.TimevalToNsec(ruAfter.Utime) + syscall.TimevalToNsec(ruAfter.Stime) -
		syscall.TimevalToNsec(ruBefore.Utime) - syscall.TimevalToNsec(ruBefore.Stime))
	b.ReportMetric(float64(cpu.Microseconds())/float64(want), "cpu-µs/delivery")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(want), "allocs/delivery")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/msg")
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "deliveries/s")
}
