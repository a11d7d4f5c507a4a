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

// readUntil follows l through the bridge's own msglog.Reader from
// position pos until stop says enough or the log closes.
func readUntil(t *testing.T, l Log, pos uint64, stop func(*collected) bool) (*collected, uint64) {
	t.Helper()
	return follow(t, msglog.NewReader(l, pos), stop)
}

func follow(t *testing.T, rd *msglog.Reader, stop func(*collected) bool) (*collected, uint64) {
	t.Helper()
	out := &collected{}
	timeout := time.After(deadline)
	for !stop(out) {
		res := rd.Next(64)
		if res.Gap != nil {
			out.gaps = append(out.gaps, *res.Gap)
		}
		out.entries = append(out.entries, res.Entries...)
		if res.Closed {
			out.closed = true
			break
		}
		if len(res.Entries) > 0 || res.Gap != nil {
			continue
		}
		select {
		case <-res.Wait:
		case <-timeout:
			t.Fatalf("timed out after %d entries", len(out.entries))
		}
	}
	return out, rd.Pos()
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
