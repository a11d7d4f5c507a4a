package bridge_test

import (
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// broadcastSockJS is a broadcast-mode SockJS route in front of up that
// lets clients send to the shared upstream.
func broadcastSockJS(t *testing.T, up *testUpstream, limits config.Limits) *sockjsService {
	r := sockjsRoute("/feed", up.url("/feed"))
	r.Mode = config.ModeBroadcast
	r.ClientSend = true
	return newSockJS(t, r, limits)
}

// TestSockJSBroadcast: each SockJS session is one subscriber of the
// topic: every session gets what the upstream publishes, in order.
func TestSockJSBroadcast(t *testing.T) {
	up := newUpstream(t)
	s := broadcastSockJS(t, up, config.Limits{})
	a, b := s.base+"/000/"+newSID(), s.base+"/000/"+newSID()
	exchange(t, "open a", "POST", a+"/xhr", "", nil, 200, "o\n")
	exchange(t, "open b", "POST", b+"/xhr", "", nil, 200, "o\n")
	waitFor(t, "the shared upstream", func() bool { open, _, _ := up.stats(); return open == 1 })
	up.publish("one")
	up.publish("two")
	for _, u := range []string{a, b} {
		if got := pollMessages(t, u, 2); len(got) != 2 || got[0] != "one" || got[1] != "two" {
			t.Fatalf("%s got %q", u, got)
		}
	}
	// client_send: a send goes to the shared upstream (which echoes it
	// to every subscriber).
	exchange(t, "send", "POST", a+"/xhr_send", `["hi"]`, nil, 204, "")
	for _, u := range []string{a, b} {
		if got := pollMessages(t, u, 1); got[0] != "hi" {
			t.Fatalf("%s got %q", u, got)
		}
	}
}
