package msglog_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func text(s string) msg.Message { return msg.Message{Data: []byte(s)} }

func TestReadInOrderAndWake(t *testing.T) {
	l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 8})
	rd := msglog.NewReader(l, 0)
	res := rd.Next(10)
	if len(res.Entries) != 0 || res.Wait == nil {
		t.Fatalf("empty log: %+v", res)
	}
	l.Append(text("a"))
	select {
	case <-res.Wait:
	case <-time.After(5 * time.Second):
		t.Fatal("append did not wake the reader")
	}
	l.Append(text("b"))
	res = rd.Next(10)
	if len(res.Entries) != 2 || string(res.Entries[0].Msg.Data) != "a" || res.Entries[1].Cursor != "ep-2" {
		t.Fatalf("got %+v", res.Entries)
	}
	if rd.Cursor() != "ep-2" {
		t.Fatalf("cursor %q", rd.Cursor())
	}
	l.Close(msg.CloseInfo{Code: 1000, Reason: "bye"})
	res = rd.Next(10)
	if !res.Closed || res.Info.Reason != "bye" {
		t.Fatalf("want closed, got %+v", res)
	}
}

func TestOverrunGivesGap(t *testing.T) {
	var dropped int
	l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 3, OnEvict: func(n int) { dropped += n }})
	rd := msglog.NewReader(l, 0)
	for i := 1; i <= 5; i++ {
		l.Append(text(fmt.Sprint(i)))
	}
	res := rd.Next(10)
	if res.Gap == nil || res.Gap.From != "ep-0" || res.Gap.To != "ep-2" || !res.Gap.Overrun {
		t.Fatalf("gap %+v", res.Gap)
	}
	if len(res.Entries) != 3 || string(res.Entries[0].Msg.Data) != "3" {
		t.Fatalf("entries %+v", res.Entries)
	}
	if dropped != 2 {
		t.Fatalf("dropped %d", dropped)
	}
}

func TestByteBoundEvicts(t *testing.T) {
	l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 100, MaxBytes: 3000})
	for range 10 {
		l.Append(msg.Message{Data: make([]byte, 1000)})
	}
	first, last := l.Bounds()
	if last != 10 || last-first+1 > 3 {
		t.Fatalf("bounds %d..%d", first, last)
	}
}

func TestResumeStaleAndAhead(t *testing.T) {
	l := msglog.New(msglog.Options{Epoch: "new", Capacity: 4})
	l.Append(text("x"))
	rd, err := msglog.ResumeReader(l, wire.Cursor{Epoch: "old", Seq: 77})
	if err != nil {
		t.Fatal(err)
	}
	res := rd.Next(10)
	if res.Gap == nil || res.Gap.From != "old-77" || res.Gap.To != "new-0" || len(res.Entries) != 1 {
		t.Fatalf("stale resume: gap %+v entries %d", res.Gap, len(res.Entries))
	}
	if _, err := msglog.ResumeReader(l, wire.Cursor{Epoch: "new", Seq: 2}); !errors.Is(err, msglog.ErrCursorAhead) {
		t.Fatalf("ahead cursor: %v", err)
	}
}

func TestUpstreamGapEntry(t *testing.T) {
	l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 4})
	l.Append(text("a"))
	l.Gap("reconnected")
	l.Append(text("b"))
	res := msglog.NewReader(l, 0).Next(10)
	if len(res.Entries) != 3 || res.Entries[1].Kind != msglog.KindGap || res.Entries[1].PrevCursor != "ep-1" {
		t.Fatalf("entries %+v", res.Entries)
	}
}

func TestSnapshotPosition(t *testing.T) {
	l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 4})
	if l.LatestMessage() != 0 {
		t.Fatal("empty log snapshot")
	}
	l.Append(text("a"))
	l.Append(text("b"))
	res := msglog.NewReader(l, l.LatestMessage()).Next(10)
	if len(res.Entries) != 1 || string(res.Entries[0].Msg.Data) != "b" {
		t.Fatalf("snapshot %+v", res.Entries)
	}
}

func TestEncodedOnce(t *testing.T) {
	l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 4})
	l.Append(text("a"))
	e := msglog.NewReader(l, 0).Next(1).Entries[0]
	calls := 0
	enc := func(*msglog.Entry) []byte { calls++; return []byte("x") }
	for range 5 {
		e.Encoded(msglog.FormatSSE, enc)
	}
	if calls != 1 {
		t.Fatalf("encoded %d times", calls)
	}
}

func TestFlowControlWaitsForAcksThenGivesUp(t *testing.T) {
	l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 2, AckWait: time.Hour})
	l.Append(text("1"))
	l.Append(text("2"))
	appended := make(chan struct{})
	go func() { l.Append(text("3")); close(appended) }()
	// Barrier: the append is parked in flow control (an append that did
	// not wait would be done, and never parked).
	for deadline := time.Now().Add(5 * time.Second); !msglog.AppendWaiting(l); time.Sleep(time.Millisecond) {
		select {
		case <-appended:
			t.Fatal("append did not wait for the client to acknowledge")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the append never waited for space")
		}
	}
	if _, last := l.Bounds(); last != 2 {
		t.Fatalf("a parked append is in the log: last seq %d", last)
	}
	l.Ack(1)
	<-appended
	res := msglog.NewReader(l, 1).Next(10)
	if res.Gap != nil || len(res.Entries) != 2 {
		t.Fatalf("after ack: %+v", res)
	}

	stuck := msglog.New(msglog.Options{Epoch: "ep", Capacity: 2, AckWait: time.Millisecond})
	for i := range 50 { // one wait, then eviction at full speed
		stuck.Append(text(fmt.Sprint(i)))
	}
	if first, last := stuck.Bounds(); first != 49 || last != 50 {
		t.Fatalf("bounds %d..%d", first, last)
	}
	l.Close(msg.CloseInfo{})
}
