package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
)

// waitReady polls Ready until Redis answers.
func waitReady(t *testing.T, c *Client) {
	t.Helper()
	stop := time.Now().Add(deadline)
	for c.Ready(context.Background()) != nil {
		if time.Now().After(stop) {
			t.Fatal("redis never became ready again")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// retry runs op until it succeeds (the fail-fast window after an outage
// refuses at first).
func retry(t *testing.T, op func() error) {
	t.Helper()
	stop := time.Now().Add(deadline)
	for {
		err := op()
		if err == nil {
			return
		}
		if time.Now().After(stop) {
			t.Fatalf("still failing: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Redis stopped and restarted empty: clear ErrUnavailable errors while it
// is down; afterwards the same log goes on under the same epoch with an
// explicit gap, session ownership is taken back, and errors were counted.
func TestRedisStoppedAndRestarted(t *testing.T) {
	srv, url := startRedis(t)
	reg := prometheus.NewRegistry()
	cs := newClients(t, url, 2, Options{Registry: nil})
	owner, err := New(Options{URL: url, InstanceID: "owner", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner.Close() })
	ctx := context.Background()
	name := TopicName("/r", "")
	w := openLog(t, owner, name, LogOptions{Capacity: 50})
	r := openLog(t, cs[1], name, LogOptions{Capacity: 50})
	for _, s := range []string{"a", "b", "c"} {
		w.Append(msg.Message{Data: []byte(s)})
	}
	before, pos := readUntil(t, r, 0, atLeast(3))
	if len(before.entries) != 3 {
		t.Fatalf("before: %d entries", len(before.entries))
	}
	rec := newRecorder()
	in, err := owner.OpenInbox(ctx, "sess-r", InboxOptions{Deliver: rec.deliver, TTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	srv.Stop()
	if err := owner.Ready(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ready while down: %v", err)
	}
	if err := w.AppendContext(ctx, msg.Message{Data: []byte("lost")}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append while down: %v", err)
	}
	if _, err := cs[0].OpenLog(ctx, TopicName("/other", ""), LogOptions{Capacity: 5}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("open while down: %v", err)
	}
	if _, err := cs[0].Send(ctx, "sess-r", 1, []msg.Message{{Data: []byte("x")}}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("send while down: %v", err)
	}
	if _, err := cs[0].TryLease(ctx, name, time.Second); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("lease while down: %v", err)
	}

	srv.Restart()
	waitReady(t, owner)
	retry(t, func() error { return w.AppendContext(ctx, msg.Message{Data: []byte("after")}) })
	after, _ := readUntil(t, r, pos, func(c *collected) bool {
		return len(messagesOnly(c.entries)) >= 1
	})
	if len(after.entries) < 2 || after.entries[0].Kind != msglog.KindGap {
		t.Fatalf("after restart: want a gap then the message, got %d entries (%+v)", len(after.entries), after.entries)
	}
	gap := after.entries[0]
	if gap.PrevCursor != r.CursorAt(3) {
		t.Errorf("gap starts at %s, want %s", gap.PrevCursor, r.CursorAt(3))
	}
	last := after.entries[len(after.entries)-1]
	if string(last.Msg.Data) != "after" || last.Seq <= 3 || r.Epoch() != w.Epoch() {
		t.Errorf("after restart: %q seq %d epoch %s/%s", last.Msg.Data, last.Seq, r.Epoch(), w.Epoch())
	}
	// The owner takes its session back; sends work again.
	retry(t, func() error {
		_, err := cs[0].Send(ctx, "sess-r", 2, []msg.Message{{Data: []byte("hello again")}})
		return err
	})
	if got := rec.waitFor(t, 1); got[0] != "hello again" {
		t.Fatalf("delivered %q", got)
	}
	if n := testutil.ToFloat64(owner.metrics.errors); n == 0 {
		t.Error("no redis errors counted during the outage")
	}
	if n := testutil.ToFloat64(owner.metrics.roundTrips); n == 0 {
		t.Error("no round trips counted")
	}
}

// A bad URL is refused without echoing it (it may hold a password).
func TestNewRefusesBadURLWithoutEchoingIt(t *testing.T) {
	for _, u := range []string{"http://x", "redis://user:s3cret@host:notaport/0", ""} {
		c, err := New(Options{URL: u})
		if err == nil {
			_ = c.Close()
			t.Fatalf("%q accepted", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("error echoes the password: %v", err)
		}
	}
}

// Redis restarted empty and another instance re-created the log first (new
// epoch): the old appender and the old mirrors close with CloseStateLost,
// so clients reconnect and get a stale-cursor gap instead of silence.
func TestStateReplacedAfterRestartClosesOldMirrors(t *testing.T) {
	srv, url := startRedis(t)
	cs := newClients(t, url, 3, Options{})
	ctx := context.Background()
	name := TopicName("/replaced", "")
	a := openLog(t, cs[0], name, LogOptions{Capacity: 10})
	c := openLog(t, cs[2], name, LogOptions{Capacity: 10})
	a.Append(msg.Message{Data: []byte("old")})
	readUntil(t, c, 0, atLeast(1))

	srv.Stop()
	srv.Restart()
	waitReady(t, cs[1])
	var b *StreamLog
	retry(t, func() error {
		var err error
		b, err = cs[1].OpenLog(ctx, name, LogOptions{Capacity: 10})
		return err
	})
	defer b.Release()
	if b.Epoch() == a.Epoch() {
		t.Fatal("the re-created log kept the old epoch")
	}
	retry(t, func() error {
		err := a.AppendContext(ctx, msg.Message{Data: []byte("stale appender")})
		if errors.Is(err, ErrLogClosed) {
			return nil
		}
		return fmt.Errorf("append: %v", err)
	})
	b.Append(msg.Message{Data: []byte("new")})
	for _, l := range []*StreamLog{a, c} {
		select {
		case <-l.Done():
		case <-time.After(deadline):
			t.Fatalf("%s's mirror never closed", l.c.InstanceID())
		}
		if _, info := l.Closed(); info.Code != CloseStateLost {
			t.Fatalf("%s closed with %+v", l.c.InstanceID(), info)
		}
	}
	got, _ := readUntil(t, b, 0, atLeast(1))
	if string(got.entries[0].Msg.Data) != "new" {
		t.Fatalf("new incarnation: %q", got.entries[0].Msg.Data)
	}
}
