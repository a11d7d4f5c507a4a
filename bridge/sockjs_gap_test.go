package bridge_test

import (
	"strconv"
	"testing"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// SockJS has no gap frame: a receiver that would miss messages gets a
// close frame and its session ends, never the messages after the gap as
// if none were lost (docs/sockjs.md, Sessions and their end).

// gapFeed is a broadcast SockJS route in front of up whose topic keeps
// the last 10 messages (slow_client: drop_oldest).
func gapFeed(t *testing.T, up *testUpstream) *sockjsService {
	r := sockjsRoute("/feed", up.url("/feed"))
	r.Mode = config.ModeBroadcast
	r.Buffer = 10
	r.SlowClient = config.SlowDropOldest
	return newSockJS(t, r, config.Limits{})
}

// TestSockJSDropOldestClosesTheSession: a session that did not poll while
// 25 messages went by (another session read each one, so all of them
// reached the topic's log) gets c[1008], on that poll and the next, and
// its sends get 404.
func TestSockJSDropOldestClosesTheSession(t *testing.T) {
	up := newUpstream(t)
	s := gapFeed(t, up)
	slow, quick := s.base+"/000/"+newSID(), s.base+"/000/"+newSID()
	exchange(t, "open slow", "POST", slow+"/xhr", "", nil, 200, "o\n")
	exchange(t, "open quick", "POST", quick+"/xhr", "", nil, 200, "o\n")
	waitFor(t, "the shared upstream", func() bool { open, _, _ := up.stats(); return open == 1 })
	for i := range 25 {
		m := "m" + strconv.Itoa(i)
		up.publish(m)
		if got := pollMessages(t, quick, 1); len(got) != 1 || got[0] != m {
			t.Fatalf("quick session got %q, want %q", got, m)
		}
	}
	closed := `c[1008,"slow client: messages were lost"]` + "\n"
	exchange(t, "the slow session's poll", "POST", slow+"/xhr", "", nil, 200, closed)
	exchange(t, "its next poll", "POST", slow+"/xhr", "", nil, 200, closed)
	if resp, _ := do(t, "POST", slow+"/xhr_send", `["x"]`, nil); resp.StatusCode != 404 {
		t.Fatalf("send to the closed session: %d, want 404", resp.StatusCode)
	}
}

// TestSockJSUpstreamGapClosesTheSession: a broadcast upstream that
// reconnects cannot say what it missed meanwhile; a SockJS receiver gets
// c[1012] (as a raw WebSocket client gets close 1012), over xhr and over
// SockJS's WebSocket.
func TestSockJSUpstreamGapClosesTheSession(t *testing.T) {
	up := newUpstream(t)
	s := gapFeed(t, up)
	sess := s.base + "/000/" + newSID()
	exchange(t, "open", "POST", sess+"/xhr", "", nil, 200, "o\n")
	ws := dialSockJS(t, s.base)
	waitFor(t, "the shared upstream", func() bool { open, _, _ := up.stats(); return open == 1 })
	up.publish("one")
	exchange(t, "before the gap", "POST", sess+"/xhr", "", nil, 200, `a["one"]`+"\n")
	expectWS(t, ws, `a["one"]`)
	up.dropAll()
	waitFor(t, "the upstream to reconnect", func() bool { open, opened, _ := up.stats(); return open == 1 && opened == 2 })
	up.publish("two")
	closed := `c[1012,"upstream reconnected: messages were lost"]`
	exchange(t, "after the gap", "POST", sess+"/xhr", "", nil, 200, closed+"\n")
	expectWS(t, ws, closed)
}

// TestSockJSClusterDropOldestClosesTheSession: with cluster.redis the
// close for lost messages is the session's on every instance: the slow
// session's poll on one instance gets c[1008], its next poll on the other
// the same frame.
func TestSockJSClusterDropOldestClosesTheSession(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/feed", up.url("/feed"))
	r.Mode = config.ModeBroadcast
	r.Buffer = 10
	r.SlowClient = config.SlowDropOldest
	gws := newClusterGateways(t, r, 2)
	for _, g := range gws {
		t.Cleanup(func() {
			waitFor(t, "sockjs sessions to expire", func() bool { return bridge.SockJSSessions(g.rh) == 0 })
		})
	}
	slow, quick := "/feed/000/"+newSID(), "/feed/000/"+newSID()
	at := func(i int, sess string) string { return gws[i%2].srv.URL + sess }
	exchange(t, "open slow on g0", "POST", at(0, slow)+"/xhr", "", nil, 200, "o\n")
	exchange(t, "open quick on g0", "POST", at(0, quick)+"/xhr", "", nil, 200, "o\n")
	waitFor(t, "the shared upstream", func() bool { open, _, _ := up.stats(); return open == 1 })
	for i := range 25 {
		m := "m" + strconv.Itoa(i)
		up.publish(m)
		if got := pollMessages(t, at(i, quick), 1); len(got) != 1 || got[0] != m {
			t.Fatalf("quick session got %q, want %q", got, m)
		}
	}
	closed := `c[1008,"slow client: messages were lost"]` + "\n"
	exchange(t, "the slow session's poll on g1", "POST", at(1, slow)+"/xhr", "", nil, 200, closed)
	exchange(t, "its next poll on g0", "POST", at(0, slow)+"/xhr", "", nil, 200, closed)
}
