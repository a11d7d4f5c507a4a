package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
)

// TestSockJSClusterAnyInstance: two instances on one real redis-server,
// no sticky sessions: a session opened on one is read and sent to on
// either, its receivers alternating between them, nothing lost or
// repeated; one receiver at a time across instances; a guessed id gets
// nothing on either; and it expires when no instance has a receiver.
func TestSockJSClusterAnyInstance(t *testing.T) {
	up := newUpstream(t)
	gws := newClusterGateways(t, sockjsRoute("/echo", up.url("/echo")), 2)
	for _, g := range gws {
		t.Cleanup(func() {
			waitFor(t, "sockjs sessions to expire", func() bool { return bridge.SockJSSessions(g.rh) == 0 })
		})
	}
	sid := newSID()
	at := func(i int) string { return gws[i%2].srv.URL + "/echo/000/" + sid }
	owner := hdr("Cookie", "auth=alice")
	exchange(t, "open on g0", "POST", at(0)+"/xhr", "", owner, 200, "o\n")

	const n = 20
	for i := 0; i < n; i++ {
		exchange(t, "send", "POST", at(i)+"/xhr_send", `["m`+strconv.Itoa(i)+`"]`, owner, 204, "")
		resp, body := do(t, "POST", at(i+1)+"/xhr", "", owner)
		expectBody(t, "poll on the other instance", resp, body, 200, "a[\"m"+strconv.Itoa(i)+"\"]\n")
	}
	if _, opened, received := up.stats(); opened != 1 || received != n {
		t.Fatalf("upstream: %d connections, %d messages; want 1 and %d", opened, received, n)
	}

	// One receiver at a time, whichever instances they reach.
	abort := holdPoll(t, at(0)+"/xhr", owner)
	waitFor(t, "the held poll", func() bool { return bridge.SockJSReceivingShared(gws[1].rh, sid) })
	exchange(t, "a second receiver on g1", "POST", at(1)+"/xhr", "", owner, 200, "c[2010,\"Another connection still open\"]\n")
	resp := start(t, "POST", at(1)+"/xhr_send", `["x"]`, hdr("Cookie", "auth=mallory"))
	expectError(t, resp, 404, "session_not_found")
	if resp, _ := do(t, "POST", at(1)+"/xhr", "", hdr("Cookie", "auth=mallory")); resp.StatusCode != 404 {
		t.Fatalf("a guessed id receiving on g1: %d, want 404", resp.StatusCode)
	}
	abort()

	// No receiver anywhere: the session expires and its upstream closes.
	waitFor(t, "the upstream to be closed", func() bool { open, _, _ := up.stats(); return open == 0 })
	if resp, _ := do(t, "POST", at(1)+"/xhr_send", `["late"]`, owner); resp.StatusCode != 404 {
		t.Fatalf("send after expiry: %d, want 404", resp.StatusCode)
	}
}

// TestSockJSClusterBroadcast: in broadcast mode a SockJS session is a
// subscription whose position every instance continues from.
func TestSockJSClusterBroadcast(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/echo", up.url("/feed"))
	r.Mode = config.ModeBroadcast
	gws := newClusterGateways(t, r, 2)
	for _, g := range gws {
		t.Cleanup(func() {
			waitFor(t, "sockjs sessions to expire", func() bool { return bridge.SockJSSessions(g.rh) == 0 })
		})
	}
	sid := newSID()
	at := func(i int) string { return gws[i%2].srv.URL + "/echo/000/" + sid }
	exchange(t, "open on g0", "POST", at(0)+"/xhr", "", nil, 200, "o\n")
	waitFor(t, "the shared upstream", func() bool { open, _, _ := up.stats(); return open == 1 })
	var got []string
	for i := 0; i < 6; i++ {
		up.publish("m" + strconv.Itoa(i))
		got = append(got, pollMessages(t, at(i+1), 1)...)
	}
	checkSeq(t, got, 6, "broadcast over alternating instances")
}

// TestSockJSClusterBroadcastSessionCap: in broadcast mode a SockJS
// session opens no bridge session, so the route's session cap
// (max_connections) counts the SockJS sessions an instance holds, in
// cluster mode as without it (it was not checked there).
func TestSockJSClusterBroadcastSessionCap(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/echo", up.url("/feed"))
	r.Mode = config.ModeBroadcast
	gws, _ := newClusterGatewaysWith(t, r, 1, config.Limits{MaxConnections: 1})
	g := gws[0]
	t.Cleanup(func() {
		waitFor(t, "sockjs sessions to expire", func() bool { return bridge.SockJSSessions(g.rh) == 0 })
	})
	exchange(t, "open", "POST", g.srv.URL+"/echo/000/"+newSID()+"/xhr", "", nil, 200, "o\n")
	resp := start(t, "POST", g.srv.URL+"/echo/000/"+newSID()+"/xhr", "", nil)
	expectError(t, resp, http.StatusServiceUnavailable, "too_many_sessions")
}

// TestSockJSClusterRouteCloseStopsTimers: closing a route (a reload, a
// shutdown) ends the cluster SockJS sessions it anchors at once: no
// disconnect timer stays armed to run after the route is gone, the record
// leaves Redis (other instances see no session), and the upstream closes.
func TestSockJSClusterRouteCloseStopsTimers(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/echo", up.url("/echo"))
	r.SockJS.DisconnectDelay = config.Duration(time.Hour) // only Close can end it
	gws, rs := newClusterGatewaysRedis(t, r, 1)
	g := gws[0]
	sid := newSID()
	exchange(t, "open", "POST", g.srv.URL+"/echo/000/"+sid+"/xhr", "", nil, 200, "o\n")
	armed := bridge.SockJSTimerArmed(g.rh, sid)
	if !armed() {
		t.Fatal("no disconnect timer armed for the open session")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.rh.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if armed() {
		t.Error("the disconnect timer is still armed after the route closed")
	}
	if n := bridge.SockJSSessions(g.rh); n != 0 {
		t.Errorf("the closed route holds %d SockJS sessions", n)
	}
	cl, err := cluster.New(cluster.Options{URL: rs.URL(), InstanceID: "reader"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.SockJSGet(ctx, "/echo", sid); !errors.Is(err, cluster.ErrSessionNotFound) {
		t.Errorf("the session's record after the route closed: %v, want not found", err)
	}
	waitFor(t, "the upstream to be closed", func() bool { open, _, _ := up.stats(); return open == 0 })
}

// TestSockJSClusterSendReadsTheRecordOnce: an xhr_send on a cluster
// session reads the session's record in Redis once (its check before the
// body and its forwarding share it), counted at the redis-server; the
// messages reach the upstream, and a guessed id still sends nothing.
func TestSockJSClusterSendReadsTheRecordOnce(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/echo", up.url("/echo"))
	r.SockJS.DisconnectDelay = config.Duration(time.Hour) // no expiry check reads it meanwhile
	gws, rs := newClusterGatewaysRedis(t, r, 2)
	sid := newSID()
	owner := hdr("Cookie", "auth=alice")
	exchange(t, "open on g0", "POST", gws[0].srv.URL+"/echo/000/"+sid+"/xhr", "", owner, 200, "o\n")
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	reads := func() int64 {
		info, err := rdb.Info(context.Background(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_hgetall:calls="); ok {
				n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
				return n
			}
		}
		return 0
	}
	for i, g := range gws {
		before := reads()
		exchange(t, "send", "POST", g.srv.URL+"/echo/000/"+sid+"/xhr_send", `["m`+strconv.Itoa(i)+`"]`, owner, 204, "")
		if n := reads() - before; n != 1 {
			t.Errorf("a send on g%d read the record %d times, want once", i, n)
		}
	}
	expectError(t, start(t, "POST", gws[1].srv.URL+"/echo/000/"+sid+"/xhr_send", `["x"]`, hdr("Cookie", "auth=mallory")),
		404, "session_not_found")
	exchange(t, "a marker send", "POST", gws[1].srv.URL+"/echo/000/"+sid+"/xhr_send", `["end"]`, owner, 204, "")
	// The upstream echoes in order: everything before the marker is what
	// it received before it.
	var echoed []string
	for !slices.Contains(echoed, "end") {
		resp, body := do(t, "POST", gws[0].srv.URL+"/echo/000/"+sid+"/xhr", "", owner)
		var got []string
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "a") || json.Unmarshal([]byte(body[1:]), &got) != nil {
			t.Fatalf("poll: %d %q", resp.StatusCode, body)
		}
		echoed = append(echoed, got...)
	}
	if want := []string{"m0", "m1", "end"}; !slices.Equal(echoed, want) {
		t.Errorf("the upstream echoed %q, want %q", echoed, want)
	}
}
