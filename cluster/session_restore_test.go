package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/internal/redistest"
)

// restoreOwnerTTL makes the owner's renewals (every ttl/3) frequent
// enough for these tests; ownership is patient, so a renewal starved under
// -race is late, never lost.
const restoreOwnerTTL = 900 * time.Millisecond

// openRestoreSession starts Redis and two instances, and opens a bound
// session on the first whose sends go to rec, with one message in its log
// and the send of seq 1 ("one", through the second) delivered.
func openRestoreSession(t *testing.T, id string) (*redistest.Server, []*Client, *recorder) {
	t.Helper()
	srv, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	rec := newRecorder()
	ctx := context.Background()
	owned, err := cs[0].OpenSession(ctx, id, SessionOptions{Capacity: 16, TTL: time.Minute, OwnerTTL: restoreOwnerTTL,
		Credentials: []byte("0123456789abcdef0123456789abcdef"), Deliver: rec.deliver})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { owned.End(msg.CloseInfo{Code: 1000, Reason: "test over"}) })
	owned.Log().Append(msg.Message{Data: []byte("m1")})
	owned.Log().Flush()
	if q, err := cs[1].Send(ctx, id, 1, []msg.Message{{Data: []byte("one")}}); err != nil || !q {
		t.Fatalf("send 1: queued=%v %v", q, err)
	}
	rec.waitFor(t, 1)
	return srv, cs, rec
}

// retrySend sends seq until an instance takes the answer for good: while
// the session is being restored (no owner yet after a Redis restart, or
// its state not written back yet) sends are refused, never taken twice.
func retrySend(t *testing.T, c *Client, id string, seq int64, data string) (queued bool) {
	t.Helper()
	retry(t, func() error {
		var err error
		queued, err = c.Send(context.Background(), id, seq, []msg.Message{{Data: []byte(data)}})
		if err != nil && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("send %d: %v", seq, err)
		}
		return err
	})
	return queued
}

// finishSends sends seq 2 ("two") and checks that the upstream got one
// and two, each once, in order.
func finishSends(t *testing.T, c *Client, id string, rec *recorder) {
	t.Helper()
	if q := retrySend(t, c, id, 2, "two"); !q {
		t.Fatal("send 2 was taken for a repeat")
	}
	expectDelivered(t, c, id, rec, "one", "two")
}

// expectDelivered sends an unsequenced "end", queued behind every earlier
// send, and checks that the upstream got want and then end: a send
// delivered twice would show before it.
func expectDelivered(t *testing.T, c *Client, id string, rec *recorder, want ...string) {
	t.Helper()
	if q := retrySend(t, c, id, -1, "end"); !q {
		t.Fatal("the unsequenced send was not queued")
	}
	want = append(want, "end")
	if got := rec.waitFor(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("the upstream got %q, want %q", got, want)
	}
}

// Redis lost a session's meta hash (eviction, a partial restore, an
// outage longer than its TTL) while the owner key survived. The owner
// writes it back from memory: other instances serve the session again
// with its binding, and a retried send is still known as one.
func TestSessionMetaLostIsRestoredByTheOwner(t *testing.T) {
	const id = "sessRRRRRRRRRRRRRRRRRR"
	_, cs, rec := openRestoreSession(t, id)
	ctx := context.Background()
	keys := cs[1].keys(SessionName(id))
	if err := cs[1].Redis().Del(ctx, keys.meta).Err(); err != nil {
		t.Fatal(err)
	}
	// The client did not get the answer to seq 1 and retries it.
	if q := retrySend(t, cs[1], id, 1, "one"); q {
		t.Fatal("the retried send 1 was queued again after the meta hash was lost")
	}
	var rs *RemoteSession
	retry(t, func() error {
		var err error
		rs, err = cs[1].AttachSession(ctx, id, 16)
		return err
	})
	defer rs.Release()
	if string(rs.Record.Credentials) != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("restored binding %q", rs.Record.Credentials)
	}
	got, _ := readUntil(t, rs.Log(), 0, atLeast(1))
	if m := messagesOnly(got.entries); len(m) != 1 || m[0] != "m1" {
		t.Fatalf("the restored session's log reads %q", m)
	}
	finishSends(t, cs[1], id, rec)
}

// A partial meta hash (here only a sendseq higher than any the owner saw,
// as a restore from an older snapshot could leave) is completed, never
// lowered: a send at or below it stays a repeat.
func TestSessionMetaRestoreNeverLowersSendSeq(t *testing.T) {
	const id = "sessPPPPPPPPPPPPPPPPPP"
	_, cs, rec := openRestoreSession(t, id)
	ctx := context.Background()
	keys := cs[1].keys(SessionName(id))
	pipe := cs[1].Redis().TxPipeline()
	pipe.Del(ctx, keys.meta)
	pipe.HSet(ctx, keys.meta, "sendseq", 5)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	retry(t, func() error {
		_, err := cs[1].LookupSession(ctx, id)
		return err
	})
	if q := retrySend(t, cs[1], id, 4, "four"); q {
		t.Fatal("send 4 was queued below the sendseq Redis had")
	}
	if q := retrySend(t, cs[1], id, 6, "six"); !q {
		t.Fatal("send 6 was taken for a repeat")
	}
	expectDelivered(t, cs[1], id, rec, "one", "six")
}

// Redis restarted without its data between a send and the client's retry
// of it: the owner, still alive, writes back the last seq it accepted with
// the session, so the retry is not delivered a second time.
func TestSessionSendSeqSurvivesRedisRestart(t *testing.T) {
	const id = "sessSSSSSSSSSSSSSSSSSS"
	srv, cs, rec := openRestoreSession(t, id)
	srv.Stop()
	srv.Restart()
	waitReady(t, cs[1])
	if q := retrySend(t, cs[1], id, 1, "one"); q {
		t.Fatal("the retried send 1 was queued again after Redis restarted empty")
	}
	// Another instance serves the session again, at the client's cursor.
	var rs *RemoteSession
	retry(t, func() error {
		var err error
		rs, err = cs[1].AttachSession(context.Background(), id, 16)
		return err
	})
	defer rs.Release()
	if first, last := rs.Log().Bounds(); last < 1 {
		t.Fatalf("the restored log ends at %d (first %d): the client's cursor 1 is ahead of it", last, first)
	}
	finishSends(t, cs[1], id, rec)
}

// Sends still waiting in the inbox when the meta hash went count too: the
// owner has not taken them yet, so only the inbox knows their seq.
func TestSessionMetaRestoreCountsQueuedSends(t *testing.T) {
	_, url := startRedis(t)
	cs := newClients(t, url, 2, Options{})
	ctx := context.Background()
	const id = "sessQQQQQQQQQQQQQQQQQQ"
	rec := newRecorder()
	release := make(chan struct{})
	deliver := func(ctx context.Context, m msg.Message) error {
		if string(m.Data) == "one" { // the upstream write hangs: seq 2 waits
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return rec.deliver(ctx, m)
	}
	owned, err := cs[0].OpenSession(ctx, id, SessionOptions{Capacity: 16, TTL: time.Minute, OwnerTTL: restoreOwnerTTL, Deliver: deliver})
	if err != nil {
		t.Fatal(err)
	}
	defer owned.End(msg.CloseInfo{Code: 1000, Reason: "test over"})
	for seq, data := range []string{"one", "two"} {
		if q, err := cs[1].Send(ctx, id, int64(seq+1), []msg.Message{{Data: []byte(data)}}); err != nil || !q {
			t.Fatalf("send %d: queued=%v %v", seq+1, q, err)
		}
	}
	if err := cs[1].Redis().Del(ctx, cs[1].keys(SessionName(id)).meta).Err(); err != nil {
		t.Fatal(err)
	}
	if q := retrySend(t, cs[1], id, 2, "two"); q {
		t.Fatal("the retried send 2, still queued, was queued again")
	}
	close(release)
	expectDelivered(t, cs[1], id, rec, "one", "two")
}

// Redis came back with an older copy of the meta hash (a restart from an
// older snapshot, a failover to a replica that lagged): the binding is
// there, but sendseq went back. The owner's renewal raises it again to the
// last seq it took, so a retry after that is still a repeat. (Between the
// rollback and that renewal a retry can get through: docs/cluster.md.)
func TestSessionSendSeqRolledBackIsRaisedByTheOwner(t *testing.T) {
	const id = "sessOOOOOOOOOOOOOOOOOO"
	_, cs, rec := openRestoreSession(t, id)
	ctx := context.Background()
	meta := cs[1].keys(SessionName(id)).meta
	if err := cs[1].Redis().HSet(ctx, meta, "sendseq", 0).Err(); err != nil {
		t.Fatal(err)
	}
	retry(t, func() error {
		if n, _ := cs[1].Redis().HGet(ctx, meta, "sendseq").Int(); n < 1 {
			return errors.New("sendseq still rolled back")
		}
		return nil
	})
	if q := retrySend(t, cs[1], id, 1, "one"); q {
		t.Fatal("the retried send 1 was queued again")
	}
	finishSends(t, cs[1], id, rec)
}
