package upstream

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit only keeps a broken test from hanging; no test asserts timing.
const waitLimit = 30 * time.Second

// recSink records what an adapter appends, in order.
type recSink struct {
	mu      sync.Mutex
	entries []entry // messages and gaps interleaved, as appended
	changed chan struct{}
}

type entry struct {
	m   msg.Message
	gap string // non-empty for a gap
}

func newRecSink() *recSink { return &recSink{changed: make(chan struct{}, 1)} }

func (s *recSink) Append(m msg.Message) { s.add(entry{m: m}) }
func (s *recSink) Gap(reason string)    { s.add(entry{gap: reason}) }

func (s *recSink) add(e entry) {
	s.mu.Lock()
	s.entries = append(s.entries, e)
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *recSink) snapshot() []entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]entry(nil), s.entries...)
}

func (s *recSink) messages() []msg.Message {
	var out []msg.Message
	for _, e := range s.snapshot() {
		if e.gap == "" {
			out = append(out, e.m)
		}
	}
	return out
}

func (s *recSink) gaps() []string {
	var out []string
	for _, e := range s.snapshot() {
		if e.gap != "" {
			out = append(out, e.gap)
		}
	}
	return out
}

// waitUntil waits for cond, checking each time the sink changes.
func (s *recSink) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitFor(t, what, cond, s.changed)
}

// waitFor polls cond when wake fires and every 10ms until it holds or
// waitLimit passes (then the test fails: the limit only prevents hangs).
func waitFor(t *testing.T, what string, cond func() bool, wake <-chan struct{}) {
	t.Helper()
	deadline := time.After(waitLimit)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-wake:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (s *recSink) waitMessages(t *testing.T, n int) []msg.Message {
	t.Helper()
	s.waitUntil(t, "messages", func() bool { return len(s.messages()) >= n })
	return s.messages()
}

// testOptions are short intervals and backoffs so tests run fast.
func testOptions(t *testing.T, kind, url string) Options {
	return Options{
		Route: config.Route{
			Path:      "/t",
			Heartbeat: config.Duration(time.Second),
			Upstream: config.Upstream{
				URL:       url,
				Kind:      kind,
				Interval:  config.Duration(20 * time.Millisecond),
				Timeout:   config.Duration(5 * time.Second),
				Reconnect: config.Reconnect{Min: config.Duration(10 * time.Millisecond), Max: config.Duration(50 * time.Millisecond)},
			},
		},
		URL:    url,
		Logger: zaptest.NewLogger(t),
	}
}

// running is a Conn whose Run goroutine the test owns.
type running struct {
	conn   Conn
	cancel context.CancelFunc
	done   chan msg.CloseInfo
}

func startRun(t *testing.T, conn Conn, sink msg.Sink) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{conn: conn, cancel: cancel, done: make(chan msg.CloseInfo, 1)}
	go func() { r.done <- conn.Run(ctx, sink) }()
	t.Cleanup(func() {
		conn.Close()
		cancel()
		r.wait(t)
	})
	return r
}

// wait returns Run's CloseInfo (once; later calls return the zero value).
func (r *running) wait(t *testing.T) msg.CloseInfo {
	t.Helper()
	select {
	case info, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return info
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
		return msg.CloseInfo{}
	}
}

func dial(t *testing.T, opts Options) Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, err := Dial(ctx, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return conn
}

func dataOf(ms []msg.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Data)
	}
	return out
}
