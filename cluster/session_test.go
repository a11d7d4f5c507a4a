package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// recorder is an upstream stand-in: it records what the owner delivers.
type recorder struct {
	mu   sync.Mutex
	got  []string
	more chan struct{}
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

func (r *recorder) deliver(_ context.Context, m msg.Message) error {
	r.mu.Lock()
	r.got = append(r.got, string(m.Data))
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	timeout := time.After(deadline)
	for {
		r.mu.Lock()
		if len(r.got) >= n {
			out := append([]string(nil), r.got...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.more:
		case <-timeout:
			t.Fatalf("timed out waiting for %d deliveries", n)
		}
	}
}

// Sends arriving at random instances, with retries of the same seq, reach
// the owner's upstream exactly once each, in order.
func TestSessionSendsRoutedToOwner(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 3, Options{})
	ctx := context.Background()
	const id = "sessAAAAAAAAAAAAAAAAAA"
	rec := newRecorder()
	in, err := cs[0].OpenInbox(ctx, id, InboxOptions{Deliver: rec.deliver, Credentials: []byte("hash")})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := cs[1].OpenInbox(ctx, id, InboxOptions{Deliver: rec.deliver}); !errors.Is(err, ErrSessionExists) {
		t.Fatalf("second owner: %v", err)
	}
	rc, err := cs[2].LookupSession(ctx, id)
	if err != nil || rc.Owner != "inst0" || string(rc.Credentials) != "hash" {
		t.Fatalf("lookup = %+v, %v", rc, err)
	}

	const n = 2000
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]string, 0, n)
	for seq := 0; seq < n; seq += 2 {
		batch := []msg.Message{{Data: []byte(fmt.Sprint(seq))}, {Data: []byte(fmt.Sprint(seq + 1))}}
		want = append(want, fmt.Sprint(seq), fmt.Sprint(seq+1))
		queued, err := cs[rng.IntN(3)].Send(ctx, id, int64(seq), batch)
		if err != nil || !queued {
			t.Fatalf("send %d: queued=%v err=%v", seq, queued, err)
		}
		if rng.IntN(4) == 0 { // the response was lost: the client retries elsewhere
			queued, err := cs[rng.IntN(3)].Send(ctx, id, int64(seq), batch)
			if err != nil || queued {
				t.Fatalf("retry %d: queued=%v err=%v", seq, queued, err)
			}
		}
	}
	got := rec.waitFor(t, n)
	if len(got) != n {
		t.Fatalf("delivered %d, want %d", len(got), n)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delivery %d = %q, want %q", i, got[i], want[i])
		}
	}
	// Nothing more arrives (no duplicates after the fact).
	if _, err := cs[1].Send(ctx, id, -1, []msg.Message{{Data: []byte("end")}}); err != nil {
		t.Fatal(err)
	}
	if got := rec.waitFor(t, n+1); len(got) != n+1 || got[n] != "end" {
		t.Fatalf("after end: %d deliveries, last %q", len(got), got[len(got)-1])
	}
}

func TestSessionSendErrors(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	ctx := context.Background()
	if _, err := cs[0].Send(ctx, "nobody", 1, []msg.Message{{Data: []byte("x")}}); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("send to unknown session: %v", err)
	}
	if _, err := cs[0].LookupSession(ctx, "nobody"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("lookup unknown session: %v", err)
	}
	// An owner that does not deliver fills its inbox: sends are refused, not
	// dropped.
	block := make(chan struct{})
	in, err := cs[0].OpenInbox(ctx, "slow", InboxOptions{Deliver: func(ctx context.Context, _ msg.Message) error {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	defer close(block)
	full := false
	big := make([]msg.Message, 100)
	for i := range big {
		big[i] = msg.Message{Data: []byte("x")}
	}
	for i := 0; i < 2*defaultInboxMax/len(big)+2 && !full; i++ {
		_, err := cs[1].Send(ctx, "slow", -1, big)
		if errors.Is(err, ErrInboxFull) {
			full = true
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("inbox never reported full")
	}
	// After Close the session is gone for everyone.
	in.Close()
	if _, err := cs[1].Send(ctx, "slow", -1, big[:1]); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("send after close: %v", err)
	}
}
