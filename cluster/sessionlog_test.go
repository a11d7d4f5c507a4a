package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// A long-poll style client: every poll and every send goes to a random
// instance. The session's owner echoes each send through its upstream
// (here: straight into the log). 2,000 messages each way, each delivered
// exactly once and in order.
func TestSessionPollAndSendAtRandomInstances(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 3, Options{})
	ctx := context.Background()
	const id = "sessBBBBBBBBBBBBBBBBBB"
	var owned *OwnedSession
	echo := func(_ context.Context, m msg.Message) error {
		owned.Log().Append(msg.Message{Data: append([]byte("echo:"), m.Data...)})
		return nil
	}
	var err error
	owned, err = cs[0].OpenSession(ctx, id, SessionOptions{Capacity: 4096, TTL: time.Minute, Deliver: echo})
	if err != nil {
		t.Fatal(err)
	}
	defer owned.End(msg.CloseInfo{Code: 1000, Reason: "test over"})

	const n = 2000
	rng := rand.New(rand.NewPCG(3, 4))
	cursor := owned.Log().CursorAt(0)
	var got []string
	remote := map[int]*RemoteSession{}
	seq := int64(0)
	for sent := 0; len(got) < n; {
		// Send a few at a random instance (sometimes retried elsewhere).
		for k := 0; k < 5 && sent < n; k++ {
			m := []msg.Message{{Data: []byte(fmt.Sprint(sent))}}
			if _, err := cs[rng.IntN(3)].Send(ctx, id, seq, m); err != nil {
				t.Fatalf("send %d: %v", sent, err)
			}
			if rng.IntN(5) == 0 {
				if q, err := cs[rng.IntN(3)].Send(ctx, id, seq, m); err != nil || q {
					t.Fatalf("retry %d: queued=%v %v", sent, q, err)
				}
			}
			seq++
			sent++
		}
		// Poll at a random instance with the last cursor.
		// Like the bridge, an instance keeps serving a session it attached
		// to (until its TTL) instead of reloading it for every poll.
		i := rng.IntN(3)
		c := cs[i]
		log := owned.Log()
		if i > 0 {
			if remote[i] == nil {
				rs, err := c.AttachSession(ctx, id, 4096)
				if err != nil {
					t.Fatalf("attach on %s: %v", c.InstanceID(), err)
				}
				remote[i] = rs
				defer rs.Release()
			}
			log = remote[i].Log()
		}
		cur, err := wire.ParseCursor(cursor)
		if err != nil {
			t.Fatal(err)
		}
		if err := log.CatchUp(ctx, cur.Seq); err != nil {
			t.Fatalf("catch up: %v", err)
		}
		rd, err := msglog.ResumeReader(log, cur)
		if err != nil {
			t.Fatalf("resume %s on %s: %v", cursor, c.InstanceID(), err)
		}
		res, _ := follow(t, rd, atLeast(1))
		if len(res.gaps) > 0 || res.closed {
			t.Fatalf("poll: gaps %+v closed %v", res.gaps, res.closed)
		}
		for _, e := range res.entries {
			got = append(got, string(e.Msg.Data))
			cursor = e.Cursor
		}
	}
	for i, s := range got {
		if s != fmt.Sprintf("echo:%d", i) {
			t.Fatalf("message %d = %q", i, s)
		}
	}
}

// The owner dies: its session cannot move, and a client reaching another
// instance gets an explicit close (after the owner TTL), never silence;
// sends are refused.
func TestSessionOwnerGoneIsExplicit(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	ctx := context.Background()
	const id = "sessCCCCCCCCCCCCCCCCCC"
	owned, err := cs[0].OpenSession(ctx, id, SessionOptions{Capacity: 16, TTL: time.Minute, OwnerTTL: 600 * time.Millisecond,
		Deliver: func(context.Context, msg.Message) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	owned.Log().Append(msg.Message{Data: []byte("before")})
	// Stored before the crash: appends are queued and written in batches,
	// and what a crash takes with it is not what this test is about.
	owned.Log().Flush()
	// A client already reading on another instance when the owner dies
	// gets the close too.
	early, err := cs[1].AttachSession(ctx, id, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Release()
	earlyDone := make(chan *collected, 1)
	go func() {
		got, _ := readUntil(t, early.Log(), 1, func(*collected) bool { return false })
		earlyDone <- got
	}()
	_ = cs[0].Close() // crash
	select {
	case got := <-earlyDone:
		if !got.closed || len(got.entries) != 0 {
			t.Fatalf("early reader: closed=%v entries=%d", got.closed, len(got.entries))
		}
	case <-time.After(deadline):
		t.Fatal("early reader never learned the owner died")
	}
	var rs *RemoteSession
	retry(t, func() error {
		if rs != nil {
			rs.Release()
		}
		rs, err = cs[1].AttachSession(ctx, id, 16)
		if err != nil {
			return err
		}
		if closed, _ := rs.Log().Closed(); !closed {
			return errors.New("owner still recorded")
		}
		return nil
	})
	defer rs.Release()
	got, _ := readUntil(t, rs.Log(), 0, func(*collected) bool { return false })
	if !got.closed || len(got.entries) != 1 || string(got.entries[0].Msg.Data) != "before" {
		t.Fatalf("reader: closed=%v entries=%d", got.closed, len(got.entries))
	}
	if _, info := rs.Log().Closed(); info.Code != CloseOwnerGone {
		t.Fatalf("close info %+v", info)
	}
	if _, err := cs[1].Send(ctx, id, -1, []msg.Message{{Data: []byte("x")}}); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("send: %v", err)
	}
	if _, err := cs[1].AttachSession(ctx, "never-existed", 16); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
}

// Recording a session's binding never shortens its log's TTL: the meta
// hash (epoch, creds) lives as long as the stream, however long
// session_ttl is. (It was cut to a minute: a quiet session with a longer
// TTL then lost its epoch and binding, and other instances refused it.)
func TestSessionBindingKeepsTheLogTTL(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 1, Options{})
	ctx := context.Background()
	const id = "sessCCCCCCCCCCCCCCCCCC"
	owned, err := cs[0].OpenSession(ctx, id, SessionOptions{Capacity: 16, TTL: time.Hour, Credentials: []byte("0123456789abcdef0123456789abcdef"),
		Deliver: func(context.Context, msg.Message) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer owned.End(msg.CloseInfo{Code: 1000, Reason: "test over"})
	keys := cs[0].keys(SessionName(id))
	if ttl := cs[0].Redis().PTTL(ctx, keys.meta).Val(); ttl < 50*time.Minute {
		t.Fatalf("the session's meta hash expires in %v, its log in %v", ttl, cs[0].Redis().PTTL(ctx, keys.log).Val())
	}
}
