package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/internal/redistest"
)

func TestMain(m *testing.M) {
	RedirectRedisLogs(zap.NewNop())
	goleak.VerifyTestMain(m)
}

// deadline bounds every wait in these tests; it only guards against hangs.
const deadline = 30 * time.Second

// newClients starts n instances (separate pools, separate ids) on one Redis.
func newClients(t *testing.T, url string, n int, opts Options) []*Client {
	t.Helper()
	out := make([]*Client, n)
	for i := range out {
		o := opts
		o.URL = url
		o.InstanceID = fmt.Sprintf("inst%d", i)
		c, err := New(o)
		if err != nil {
			t.Fatalf("new client: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		out[i] = c
	}
	return out
}

func startRedisB(b *testing.B) string {
	b.Helper()
	return redistest.Start(b)
}

func startRedis(t *testing.T) (*redistest.Server, string) {
	t.Helper()
	s := redistest.StartServer(t)
	return s, s.URL()
}

func openLog(t *testing.T, c *Client, name string, opts LogOptions) *StreamLog {
	t.Helper()
	l, err := c.OpenLog(context.Background(), name, opts)
	if err != nil {
		t.Fatalf("open log %s on %s: %v", name, c.InstanceID(), err)
	}
	t.Cleanup(l.Release)
	return l
}

// collected is what a reader saw, in order.
type collected struct {
	entries []*msglog.Entry
	gaps    []msglog.Gap
	closed  bool
}

// readUntil follows l through a msglog-style reader from position pos
// until stop says enough or the log closes.
func readUntil(t *testing.T, l Log, pos uint64, stop func(*collected) bool) (*collected, uint64) {
	t.Helper()
	out := &collected{}
	timeout := time.After(deadline)
	var buf []*msglog.Entry
	for !stop(out) {
		first, _ := l.Bounds()
		b := l.Read(pos, buf, 64)
		buf = b.Entries[:0]
		if b.Missed {
			out.gaps = append(out.gaps, msglog.Gap{From: l.CursorAt(pos), To: l.CursorAt(b.MissedTo), ToSeq: b.MissedTo, Overrun: true})
			pos = b.MissedTo
			_ = first
		}
		for _, e := range b.Entries {
			out.entries = append(out.entries, e)
			pos = e.Seq
		}
		if b.Closed {
			out.closed = true
			return out, pos
		}
		if len(b.Entries) > 0 || b.Missed {
			continue
		}
		select {
		case <-b.Wait:
		case <-timeout:
			t.Fatalf("timed out after %d entries", len(out.entries))
		}
	}
	return out, pos
}

func messagesOnly(es []*msglog.Entry) []string {
	var out []string
	for _, e := range es {
		if e.Kind == msglog.KindMessage {
			out = append(out, string(e.Msg.Data))
		}
	}
	return out
}

func atLeast(n int) func(*collected) bool {
	return func(c *collected) bool { return len(c.entries) >= n }
}
