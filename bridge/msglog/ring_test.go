package msglog_test

import (
	"fmt"
	"testing"

	"github.com/bridgeway/bridgeway/bridge/msglog"
)

// The ring starts empty and grows as messages arrive, wrapping around once
// it reaches capacity: at every step the retained window is exactly the
// newest min(n, capacity) messages, in order, with their seqs.
func TestRingGrowsAndWraps(t *testing.T) {
	for _, capacity := range []int{1, 3, 8, 20, 64} {
		t.Run(fmt.Sprint("capacity=", capacity), func(t *testing.T) {
			l := msglog.New(msglog.Options{Epoch: "ep", Capacity: capacity})
			for n := 1; n <= 3*capacity+5; n++ {
				l.Append(text(fmt.Sprint(n)))
				first, last := l.Bounds()
				wantFirst := max(1, n-capacity+1)
				if first != uint64(wantFirst) || last != uint64(n) {
					t.Fatalf("after %d: bounds %d..%d, want %d..%d", n, first, last, wantFirst, n)
				}
				b := l.Read(first-1, nil, capacity+1)
				if b.Missed || len(b.Entries) != n-wantFirst+1 {
					t.Fatalf("after %d: read %d entries (missed %v)", n, len(b.Entries), b.Missed)
				}
				for i, e := range b.Entries {
					seq := wantFirst + i
					if e.Seq != uint64(seq) || string(e.Msg.Data) != fmt.Sprint(seq) {
						t.Fatalf("after %d: entry %d is seq %d %q, want %d", n, i, e.Seq, e.Msg.Data, seq)
					}
				}
			}
		})
	}
}

// A reader that keeps up while the ring grows sees every message once.
func TestRingGrowthKeepsReaderPosition(t *testing.T) {
	l := msglog.New(msglog.Options{Epoch: "ep", Capacity: 100})
	rd := msglog.NewReader(l, 0)
	next := 1
	for n := 1; n <= 250; n++ {
		l.Append(text(fmt.Sprint(n)))
		if n%7 != 0 {
			continue
		}
		res := rd.Next(1000)
		if res.Gap != nil {
			t.Fatalf("unexpected gap %+v", res.Gap)
		}
		for _, e := range res.Entries {
			if string(e.Msg.Data) != fmt.Sprint(next) {
				t.Fatalf("got %q, want %d", e.Msg.Data, next)
			}
			next++
		}
	}
}
