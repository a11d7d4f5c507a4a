//go:build linux

package bridge_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge"
)

// BenchmarkParkedPollCycle measures whole long-poll cycles of 200 pollers
// on one broadcast topic through the whole gateway (proxy + bridge), each
// on its keep-alive connection: every poll is held, a message arrives,
// every poller reads its answer and polls again. One op is one poll cycle
// (request, hold, answer). cpu-µs/cycle and allocs/cycle are the process's
// (both ends; the raw clients allocate nothing per cycle). "parked" is the
// hijacked path reading the next poll itself and matching it by its bytes,
// "parked-parsed" the same reading every next poll with net/http's parser
// and serving it on the route's handler, "parked-reentered" the
// hijacked path giving every connection back to net/http for its next
// request, "handler" net/http's.
func BenchmarkParkedPollCycle(b *testing.B) {
	for _, c := range []struct {
		name            string
		park, next, raw bool
	}{{"parked", true, true, true}, {"parked-parsed", true, true, false}, {"parked-reentered", true, false, false}, {"handler", false, false, false}} {
		b.Run(c.name, func(b *testing.B) {
			defer bridge.SetParkPolls(c.park)()
			defer bridge.SetReadNextPolls(c.next)()
			defer bridge.SetMatchRawPolls(c.raw)()
			benchParkedPollCycle(b, 200, c.park)
		})
	}
}

func benchParkedPollCycle(b *testing.B, n int, parked bool) {
	up := newUpstream(b)
	g := startParkGatewayTB(b, up, "    poll_timeout: 1h\n")
	first := g.openCursor(b)
	waitFor(b, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	type poller struct {
		conn net.Conn
		br   *bufio.Reader
		req  []byte
	}
	ps := make([]*poller, n)
	for i := range ps {
		c, err := net.Dial("tcp", g.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		req := []byte("GET /chat/poll?cursor=" + first + " HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n")
		ps[i] = &poller{conn: c, br: bufio.NewReaderSize(c, 16<<10), req: req}
	}
	held := func() bool {
		if parked {
			return bridge.ParkedPolls(g.rh) == n
		}
		return bridge.TopicSubscribers(g.rh) == n
	}
	send := func() {
		for _, p := range ps {
			if _, err := p.conn.Write(p.req); err != nil {
				b.Fatal(err)
			}
		}
		end := time.Now().Add(deadline)
		for !held() {
			if time.Now().After(end) {
				b.Fatal("polls not held")
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	send()
	body := make([]byte, 0, 4096)
	msg := strings.Repeat("x", 128)
	cycles := (b.N + n - 1) / n
	var before, after runtime.MemStats
	var ruBefore, ruAfter syscall.Rusage
	runtime.GC()
	runtime.ReadMemStats(&before)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ruBefore)
	b.ResetTimer()
	for range cycles {
		up.publish(msg)
		for _, p := range ps {
			size, err := readPollAnswer(p.br)
			if err != nil {
				b.Fatal(err)
			}
			body = body[:size]
			if _, err := io.ReadFull(p.br, body); err != nil {
				b.Fatal(err)
			}
			i := bytes.Index(body, []byte(`"cursor":"`))
			if i < 0 || !bytes.Contains(body, []byte(`"messages":[{`)) {
				b.Fatalf("answer without the message: %s", body)
			}
			c := body[i+10:]
			c = c[:bytes.IndexByte(c, '"')]
			p.req = append(append(append(p.req[:0], "GET /chat/poll?cursor="...), c...), " HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n"...)
		}
		send()
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ruAfter)
	runtime.ReadMemStats(&after)
	polls := float64(cycles * n)
	cpu := syscall.TimevalToNsec(ruAfter.Utime) + syscall.TimevalToNsec(ruAfter.Stime) -
		syscall.TimevalToNsec(ruBefore.Utime) - syscall.TimevalToNsec(ruBefore.Stime)
	b.ReportMetric(float64(cpu)/1e3/polls, "cpu-µs/cycle")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/polls, "allocs/cycle")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/polls, "B/cycle")
}
