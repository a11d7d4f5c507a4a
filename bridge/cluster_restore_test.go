package bridge_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/bridgeway/bridgeway/cluster"
)

// sendSeq posts text with seq to g until it is answered 204: 404 (no
// owner recorded yet after a Redis restart) and 503 (Redis down, or the
// session's state not written back yet) are retried, as a client would.
func sendSeq(t *testing.T, g *gateway, id string, seq int, text string, hdr http.Header) {
	t.Helper()
	waitFor(t, "send "+strconv.Itoa(seq)+" answered", func() bool {
		r := g.post(t, "/chat/send?session="+id+"&seq="+strconv.Itoa(seq), "text/plain", []byte(text), hdr)
		r.Body.Close()
		switch r.StatusCode {
		case http.StatusNoContent:
			return true
		case http.StatusNotFound, http.StatusServiceUnavailable:
			return false
		}
		t.Fatalf("send %d: %d", seq, r.StatusCode)
		return false
	})
}

// pollFrom polls g from cursor with hdr until n messages came, as a
// client does while the session is not served there (yet); it returns
// their data and the cursor after them.
func pollFrom(t *testing.T, ctx context.Context, g *gateway, cursor string, hdr http.Header, n int) ([]string, string) {
	t.Helper()
	var got []string
	waitFor(t, "the session's messages on "+g.srv.URL, func() bool {
		a, resp := g.poll(t, ctx, "?wait=0&cursor="+cursor, hdr)
		resp.Body.Close()
		for _, m := range a.Messages {
			got = append(got, m.Data)
		}
		if a.Cursor != "" {
			cursor = a.Cursor
		}
		return len(got) >= n
	})
	return got, cursor
}

// expectSends waits until the upstream got len(want) messages and checks
// they are want: a retried send delivered again would show here.
func expectSends(t *testing.T, up *testUpstream, want ...string) {
	t.Helper()
	waitFor(t, "the sends at the upstream", func() bool { return len(up.receivedTexts()) >= len(want) })
	if got := up.receivedTexts(); !slices.Equal(got, want) {
		t.Fatalf("the upstream got %q, want %q", got, want)
	}
}

// Redis restarts without its data between a send (seq 1, answered 204 but
// the client did not see it) and its retry: the owner, alive, writes the
// last seq it took back with the session, so the retry is acknowledged
// without reaching the upstream a second time.
func TestClusterRetriedSendAcrossRedisRestartIsNotRepeated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	up, rs, _, a := openOnRedis(t, ctx, nil)
	other, _ := clusterGateway(t, sessionRoute(up), rs.URL(), 1)
	sendSeq(t, other, a.Session, 1, "first", nil)
	expectSends(t, up, "first")
	rs.Stop()
	rs.Restart()
	sendSeq(t, other, a.Session, 1, "first", nil) // the retry
	sendSeq(t, other, a.Session, 2, "second", nil)
	expectSends(t, up, "first", "second")
}

// Redis lost a session's meta hash (evicted, or an outage longer than its
// TTL) while the owner key survived: the owner writes it back, so an
// instance that never served the session serves it again, to its own
// credentials only, and a retried send is still recognised.
func TestClusterSessionMetaLostIsRestoredByItsOwner(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	alice := http.Header{"Cookie": {"sid=alice"}}
	up, rs, _, a := openOnRedis(t, ctx, alice)
	other, cl := clusterGateway(t, sessionRoute(up), rs.URL(), 1)
	sendSeq(t, other, a.Session, 1, "first", alice)
	expectSends(t, up, "first")
	meta := "bw:{" + cluster.SessionName(a.Session) + "}:meta"
	if n, err := cl.Redis().Del(ctx, meta).Result(); err != nil || n != 1 {
		t.Fatalf("deleting %s: %d %v", meta, n, err)
	}
	sendSeq(t, other, a.Session, 1, "first", alice) // the retry
	sendSeq(t, other, a.Session, 2, "second", alice)
	expectSends(t, up, "first", "second")

	fresh, _ := clusterGateway(t, sessionRoute(up), rs.URL(), 2)
	got, cursor := pollFrom(t, ctx, fresh, a.Cursor, alice, 2)
	if !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("the echoes read on a fresh instance: %q", got)
	}
	resp := fresh.get(t, ctx, "/chat/poll?wait=0&cursor="+cursor, http.Header{"Cookie": {"sid=mallory"}})
	expectError(t, resp, http.StatusForbidden, "credentials_mismatch")
}
