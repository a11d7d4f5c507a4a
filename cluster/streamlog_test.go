package cluster

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// Appends on one instance reach readers on the others exactly once and in
// order, and a reader that moves to another instance every 100 messages
// resumes from its cursor without loss or duplicates.
func TestStreamLogAcrossInstances(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 3, Options{})
	const n = 2000
	name := TopicName("/feed", "")
	logs := make([]*StreamLog, 3)
	for i, c := range cs {
		logs[i] = openLog(t, c, name, LogOptions{Capacity: n + 10})
	}
	if logs[0].Epoch() != logs[1].Epoch() || logs[1].Epoch() != logs[2].Epoch() {
		t.Fatalf("epochs differ: %s %s %s", logs[0].Epoch(), logs[1].Epoch(), logs[2].Epoch())
	}

	var wg sync.WaitGroup
	results := make([][]string, 2)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _ := readUntil(t, logs[r+1], 0, atLeast(n))
			results[r] = messagesOnly(got.entries)
		}()
	}
	// The hopping reader: 100 messages per instance, then resume elsewhere
	// from the cursor string, as a client reconnecting through a load
	// balancer would.
	var hops []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		cursor := logs[0].CursorAt(0)
		for hop := 0; len(hops) < n; hop++ {
			c, err := wire.ParseCursor(cursor)
			if err != nil {
				t.Errorf("bad cursor %q: %v", cursor, err)
				return
			}
			// A cursor from another instance may be ahead of this mirror.
			if err := logs[hop%3].CatchUp(context.Background(), c.Seq); err != nil {
				t.Errorf("catch up %q on %d: %v", cursor, hop%3, err)
				return
			}
			rd, err := msglog.ResumeReader(logs[hop%3], c)
			if err != nil {
				t.Errorf("resume %q on %d: %v", cursor, hop%3, err)
				return
			}
			want := min(100, n-len(hops))
			got, _ := follow(t, rd, atLeast(want))
			if len(got.gaps) > 0 {
				t.Errorf("hop %d: gap %+v", hop, got.gaps)
				return
			}
			es := got.entries[:want]
			hops = append(hops, messagesOnly(es)...)
			cursor = es[len(es)-1].Cursor
		}
	}()
	for i := 0; i < n; i++ {
		logs[0].Append(msg.Message{Data: []byte(fmt.Sprintf("m%d", i))})
	}
	wg.Wait()
	for r, got := range append(results, hops) {
		if len(got) != n {
			t.Fatalf("reader %d: %d messages, want %d", r, len(got), n)
		}
		for i, s := range got {
			if s != fmt.Sprintf("m%d", i) {
				t.Fatalf("reader %d: message %d is %q", r, i, s)
			}
		}
	}
}

// Message fields survive the round trip; a late opener sees what is
// retained; the upstream id is stored for a new holder.
func TestStreamLogFieldsAndLateOpen(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	name := TopicName("/prices/{s}", "s=ACME\x00")
	a := openLog(t, cs[0], name, LogOptions{Capacity: 10})
	a.Append(msg.Message{Data: []byte("line1\nline2"), Event: "tick", UpstreamID: "up-7"})
	a.Append(msg.Message{Data: []byte{0, 1, 2, 255}, Binary: true})
	a.Gap("upstream reconnected")
	a.Append(msg.Message{Data: []byte("after")})
	a.Flush()

	b := openLog(t, cs[1], name, LogOptions{Capacity: 10})
	got, _ := readUntil(t, b, 0, atLeast(4))
	es := got.entries
	if string(es[0].Msg.Data) != "line1\nline2" || es[0].Msg.Event != "tick" {
		t.Errorf("entry 0 = %+v", es[0].Msg)
	}
	if !es[1].Msg.Binary || string(es[1].Msg.Data) != "\x00\x01\x02\xff" {
		t.Errorf("entry 1 = %+v", es[1].Msg)
	}
	if es[2].Kind != msglog.KindGap || es[2].GapReason != "upstream reconnected" {
		t.Errorf("entry 2 = %+v", es[2])
	}
	if es[3].Cursor != b.Epoch()+"-4" || es[3].PrevCursor != b.Epoch()+"-3" {
		t.Errorf("cursors %q %q", es[3].Cursor, es[3].PrevCursor)
	}
	if b.UpstreamID() != "up-7" {
		t.Errorf("upstream id at open = %q", b.UpstreamID())
	}
	if id, err := b.FetchUpstreamID(context.Background()); err != nil || id != "up-7" {
		t.Errorf("fetched upstream id = %q, %v", id, err)
	}
	// Snapshot position: reading from LatestMessage yields the last message.
	snap, _ := readUntil(t, b, b.LatestMessage(), atLeast(1))
	if string(snap.entries[0].Msg.Data) != "after" {
		t.Errorf("snapshot = %q", snap.entries[0].Msg.Data)
	}
}

// A cursor older than what MAXLEN keeps gets an explicit gap, on every
// instance, and the stream never holds more than the buffer.
func TestStreamLogGapWhenCursorFellOut(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	const capacity = 5
	name := SessionName("sess-gap")
	a := openLog(t, cs[0], name, LogOptions{Capacity: capacity, Epoch: "sess-gap"})
	if a.Epoch() != "sess-gap" {
		t.Fatalf("epoch = %q", a.Epoch())
	}
	for i := 1; i <= 12; i++ {
		a.Append(msg.Message{Data: []byte(fmt.Sprint(i))})
	}
	a.Flush()
	if n := cs[0].Redis().XLen(context.Background(), cs[0].keys(name).log).Val(); n != capacity {
		t.Fatalf("stream length %d, want %d", n, capacity)
	}
	b := openLog(t, cs[1], name, LogOptions{Capacity: capacity, Existing: true})
	if _, err := cs[1].OpenLog(context.Background(), SessionName("unknown"), LogOptions{Existing: true}); err != ErrLogNotFound {
		t.Fatalf("open unknown existing log: %v", err)
	}
	for _, l := range []*StreamLog{a, b} {
		got, _ := readUntil(t, l, 3, atLeast(capacity))
		if len(got.gaps) != 1 || got.gaps[0].From != "sess-gap-3" || got.gaps[0].To != "sess-gap-7" {
			t.Fatalf("gaps = %+v", got.gaps)
		}
		if s := strings.Join(messagesOnly(got.entries), ","); s != "8,9,10,11,12" {
			t.Fatalf("messages after gap = %s", s)
		}
		l.mu.Lock()
		mirrored := len(l.entries)
		l.mu.Unlock()
		if mirrored > capacity {
			t.Fatalf("mirror holds %d entries, capacity %d", mirrored, capacity)
		}
	}
}

// Close on one instance reaches readers on every instance after the last
// message; a fresh open after that starts a new epoch.
func TestStreamLogCloseMarker(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	name := TopicName("/close", "")
	a := openLog(t, cs[0], name, LogOptions{Capacity: 10})
	b := openLog(t, cs[1], name, LogOptions{Capacity: 10})
	a.Append(msg.Message{Data: []byte("last words")})
	a.Close(msg.CloseInfo{Code: 1000, Reason: "upstream closed"})
	select {
	case <-b.Done():
	case <-time.After(deadline):
		t.Fatal("Done not closed on the other instance")
	}
	got, _ := readUntil(t, b, 0, func(*collected) bool { return false })
	if !got.closed || len(got.entries) != 1 {
		t.Fatalf("reader on b: closed=%v entries=%d", got.closed, len(got.entries))
	}
	if closed, info := b.Closed(); !closed || info.Code != 1000 || info.Reason != "upstream closed" {
		t.Fatalf("b closed = %v %+v", closed, info)
	}
	if err := a.AppendContext(context.Background(), msg.Message{Data: []byte("x")}); err != ErrLogClosed {
		t.Fatalf("append after close: %v", err)
	}
	// Not fresh: the closed log as it is.
	again := openLog(t, cs[1], name, LogOptions{Capacity: 10})
	if closed, _ := again.Closed(); !closed {
		t.Fatal("reopened (not fresh) log is not closed")
	}
	fresh := openLog(t, cs[1], name, LogOptions{Capacity: 10, Fresh: true})
	if closed, _ := fresh.Closed(); closed || fresh.Epoch() == a.Epoch() {
		t.Fatalf("fresh open: closed=%v epoch %s (old %s)", closed, fresh.Epoch(), a.Epoch())
	}
	fresh.Append(msg.Message{Data: []byte("new life")})
	got, _ = readUntil(t, fresh, 0, atLeast(1))
	if string(got.entries[0].Msg.Data) != "new life" || got.entries[0].Seq != 1 {
		t.Fatalf("fresh entry = %+v", got.entries[0])
	}
}

// Keys carry a TTL, so nothing is left behind when every instance is gone.
func TestStreamLogKeysExpire(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 1, Options{})
	name := SessionName("ttl")
	l, err := cs[0].OpenLog(context.Background(), name, LogOptions{Capacity: 3, TTL: minLogTTL})
	if err != nil {
		t.Fatal(err)
	}
	l.Append(msg.Message{Data: []byte("x")})
	l.Flush()
	rdb := cs[0].Redis()
	k := cs[0].keys(name)
	for _, key := range []string{k.meta, k.log} {
		if ttl := rdb.PTTL(context.Background(), key).Val(); ttl <= 0 {
			t.Fatalf("%s has no TTL (%v)", key, ttl)
		}
	}
	l.Release()
}

// A cursor handed out by one instance may be ahead of another's mirror:
// CatchUp reads the missing entries from Redis; a cursor past the log's
// end is still refused.
func TestStreamLogCatchUp(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	name := SessionName("catch")
	a := openLog(t, cs[0], name, LogOptions{Capacity: 10, Epoch: "catch"})
	b := openLog(t, cs[1], name, LogOptions{Capacity: 10})
	cs[1].tail.remove(b.watch) // b's mirror stops following: it lags
	for i := 1; i <= 4; i++ {
		a.Append(msg.Message{Data: []byte(fmt.Sprint(i))})
	}
	a.Flush()
	cur := wire.Cursor{Epoch: "catch", Seq: 3}
	if _, err := msglog.ResumeReader(b, cur); err != msglog.ErrCursorAhead {
		t.Fatalf("lagging mirror: %v", err)
	}
	if err := b.CatchUp(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	rd, err := msglog.ResumeReader(b, cur)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := follow(t, rd, atLeast(1))
	if s := strings.Join(messagesOnly(got.entries), ","); s != "4" {
		t.Fatalf("after cursor 3: %s", s)
	}
	if err := b.CatchUp(context.Background(), 99); err != msglog.ErrCursorAhead {
		t.Fatalf("cursor past the end: %v", err)
	}
}

// The mirror is also bounded by bytes: a reader behind it gets a gap.
func TestStreamLogMirrorMaxBytes(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 1, Options{})
	l := openLog(t, cs[0], TopicName("/big", ""), LogOptions{Capacity: 100, MaxBytes: 3 * (1000 + 160)})
	big := make([]byte, 1000)
	for i := 0; i < 10; i++ {
		l.Append(msg.Message{Data: big})
	}
	l.Flush()
	first, last := l.Bounds()
	if last != 10 || last-first+1 > 3 {
		t.Fatalf("bounds %d..%d, want at most 3 entries ending at 10", first, last)
	}
	got, _ := readUntil(t, l, 0, atLeast(1))
	if len(got.gaps) != 1 || got.gaps[0].ToSeq != first-1 {
		t.Fatalf("gaps %+v (first %d)", got.gaps, first)
	}
}

// Redis that comes back with its last writes lost (a crash between AOF
// fsyncs, a failover to a replica that lagged) rolls the stream back
// below what the appender and the mirrors have seen. The next append must
// not reuse those ids (every instance's mirror, past them, would skip it):
// it continues after the appender's last seq with a gap first, so readers
// on every instance see the loss and the new message.
func TestStreamLogRolledBackContinuesWithAGap(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	ctx := context.Background()
	name := SessionName("sess-rollback")
	a := openLog(t, cs[0], name, LogOptions{Capacity: 100, Epoch: "sess-rollback"})
	b := openLog(t, cs[1], name, LogOptions{Capacity: 100, Existing: true})
	for i := 1; i <= 5; i++ {
		a.Append(msg.Message{Data: []byte(fmt.Sprint(i))})
	}
	a.Flush()
	readUntil(t, b, 0, atLeast(5))
	// The rollback: the stream as it was after its third entry.
	rdb, key := cs[0].Redis(), cs[0].keys(name).log
	kept, err := rdb.XRange(ctx, key, "-", "0-3").Result()
	if err != nil || len(kept) != 3 {
		t.Fatalf("first three entries: %d %v", len(kept), err)
	}
	rdb.Del(ctx, key)
	for _, e := range kept {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, ID: e.ID, Values: e.Values}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	a.Append(msg.Message{Data: []byte("after")})
	a.Flush()
	for _, l := range []*StreamLog{a, b} {
		got, _ := readUntil(t, l, 5, func(c *collected) bool { return len(messagesOnly(c.entries)) >= 1 })
		if len(got.entries) != 2 || got.entries[0].Kind != msglog.KindGap || string(got.entries[1].Msg.Data) != "after" {
			t.Fatalf("after the rollback: %d entries (%q); want a gap, then \"after\"", len(got.entries), messagesOnly(got.entries))
		}
	}
}

// An instance closes a log right after another appended to it: its tailer
// may not have brought those entries yet (a burst takes several XREADs).
// Its own readers still get every message, then the close, as readers
// elsewhere do. (They got the close early and never the rest, with no
// gap, in about one run in four.)
func TestStreamLogCloseBringsWhatTheTailerHasNot(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	const runs, n = 20, 2000
	for run := range runs {
		name := TopicName("/close-behind", fmt.Sprint(run))
		closing := openLog(t, cs[0], name, LogOptions{Capacity: 2 * n})
		appender := openLog(t, cs[1], name, LogOptions{Capacity: 2 * n})
		for i := range n {
			appender.Append(msg.Message{Data: []byte(fmt.Sprint(i))})
		}
		appender.Flush()
		closing.Close(msg.CloseInfo{Code: 1000, Reason: "upstream closed"})
		got, _ := readUntil(t, closing, 0, func(*collected) bool { return false })
		if m := messagesOnly(got.entries); !got.closed || len(m) != n || len(got.gaps) != 0 {
			t.Fatalf("run %d: the closing instance's reader got %d of %d messages, gaps %+v, closed %v", run, len(m), n, got.gaps, got.closed)
		}
		for i, e := range got.entries {
			if string(e.Msg.Data) != fmt.Sprint(i) {
				t.Fatalf("run %d: entry %d = %q", run, i, e.Msg.Data)
			}
		}
	}
}

// TestStreamLogStoresTheUpstreamIDOncePerBatch: a batch of messages that
// each carry an upstream SSE id stores only the newest (a new holder
// resumes after it) with one HSET, not one per message.
func TestStreamLogStoresTheUpstreamIDOncePerBatch(t *testing.T) {
	_, url := startRedis(t)
	c := newClients(t, url, 1, Options{})[0]
	l := openLog(t, c, TopicName("/feed", ""), LogOptions{Capacity: 100})
	batch := make([]*pendingAppend, 50)
	for i := range batch {
		batch[i] = l.messageAppend(msg.Message{Data: []byte("m"), UpstreamID: fmt.Sprintf("up-%d", i+1)})
	}
	before := hsetCalls(t, c)
	for i, err := range l.store(batch) {
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if n := hsetCalls(t, c) - before; n != 1 {
		t.Errorf("%d HSET calls for one batch of 50 messages with upstream ids, want 1", n)
	}
	if id, err := l.FetchUpstreamID(context.Background()); err != nil || id != "up-50" {
		t.Errorf("stored upstream id %q, %v; want the newest, up-50", id, err)
	}
}

// TestStreamLogCloseReadsOnlyWhatTheMirrorLacks: closing a log whose
// mirror is current reads the close marker back, not the whole log again
// (it read the newest capacity entries: here 200 of 4 KiB for the marker).
func TestStreamLogCloseReadsOnlyWhatTheMirrorLacks(t *testing.T) {
	_, url := startRedis(t)
	c := newClients(t, url, 1, Options{})[0]
	const n = 200
	l := openLog(t, c, TopicName("/big", ""), LogOptions{Capacity: n})
	for range n {
		l.Append(msg.Message{Data: bytes.Repeat([]byte("x"), 4096)})
	}
	l.Flush()
	readUntil(t, l, 0, atLeast(n)) // the mirror has them all
	ranged := &rangeCounter{}
	c.rdb.AddHook(ranged)
	l.Close(msg.CloseInfo{Code: 1000, Reason: "done"})
	if got := ranged.entries.Load(); got > 1 {
		t.Errorf("closing read %d entries back with XRANGE/XREVRANGE; the mirror lacked only the close marker", got)
	}
	if closed, info := l.Closed(); !closed || info.Code != 1000 {
		t.Errorf("closed %v %+v", closed, info)
	}
}

// rangeCounter counts the entries XRANGE and XREVRANGE answers bring (the
// tailer's XREAD is not counted).
type rangeCounter struct{ entries atomic.Int64 }

func (*rangeCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *rangeCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if xc, ok := cmd.(*redis.XMessageSliceCmd); ok && (cmd.Name() == "xrange" || cmd.Name() == "xrevrange") {
			r.entries.Add(int64(len(xc.Val())))
		}
		return err
	}
}

func (*rangeCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// hsetCalls is how many HSET calls Redis has run (scripts' included); 0
// before the first, when INFO has no line for HSET yet.
func hsetCalls(t *testing.T, c *Client) int {
	t.Helper()
	info, err := c.rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_hset:calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}
