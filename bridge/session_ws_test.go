package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// A session WebSocket has no writer goroutine of its own (deliver_kick.go):
// a burst from the upstream still arrives whole and in order, and the
// heartbeat still pings the client while the session is idle.
func TestSessionWebSocketBurstAndHeartbeat(t *testing.T) {
	up := newUpstream(t)
	route := sessionRoute(up)
	// 1 s, as in TestSessionWebSocketKeepsItsHeartbeatAcrossUpdate: the session's
	// upstream takes two beats without a pong as dead, and at 30 ms a
	// loaded machine's scheduling ended the session (close 1014).
	route.Heartbeat = config.Duration(time.Second)
	g := newGateway(t, route, config.Limits{})
	ws := mustDialWS(t, g.wsURL("/chat/ws"), nil)
	pings := make(chan struct{}, 100)
	ws.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(deadline))
	})
	if err := ws.WriteMessage(websocket.TextMessage, []byte("flood 300")); err != nil {
		t.Fatal(err)
	}
	got := make([]string, 0, 300)
	for len(got) < 300 {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d messages: %v", len(got), err)
		}
		got = append(got, string(data))
	}
	checkSeq(t, got, 300, "websocket burst")

	readErr := make(chan error, 1)
	go func() { // pings are answered while reading
		_, _, err := ws.ReadMessage()
		readErr <- err
	}()
	timeout := time.After(deadline)
	for n := 0; n < 3; n++ {
		select {
		case <-pings:
		case err := <-readErr:
			t.Fatalf("connection ended while idle: %v", err)
		case <-timeout:
			t.Fatalf("%d pings, want 3", n)
		}
	}
	ws.Close()
	<-readErr
}

// Two WebSockets attached to one session both get every message: each has
// its own pump, kicked on every append.
func TestSessionWebSocketTwoClients(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "?wait=0", nil)
	a := mustDialWS(t, g.wsURL("/chat/ws?session="+first.Session), nil)
	b := mustDialWS(t, g.wsURL("/chat/ws?session="+first.Session), nil)
	// Both are attached once the session's upstream answers through them.
	if err := a.WriteMessage(websocket.TextMessage, []byte("say ready")); err != nil {
		t.Fatal(err)
	}
	for _, ws := range []*websocket.Conn{a, b} {
		if _, data, err := ws.ReadMessage(); err != nil || string(data) != "ready" {
			t.Fatalf("first frame %q, %v", data, err)
		}
	}
	g.send(t, first.Session, "flood 100")
	for i, ws := range []*websocket.Conn{a, b} {
		got := make([]string, 0, 100)
		for len(got) < 100 {
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("client %d after %d messages: %v", i, len(got), err)
			}
			got = append(got, string(data))
		}
		checkSeq(t, got, 100, "client")
	}
}

// The close frame of the client that owns a session reaches its upstream
// when it is an application's reason to leave (1000, 1001, 3000-4999);
// other codes, and a client that vanishes, give the upstream 1000.
func TestClientCloseCodeReachesUpstream(t *testing.T) {
	cases := []struct {
		name       string
		code       int // 0: the client drops the TCP connection
		reason     string
		wantCode   int
		wantReason string
	}{
		{"application code", 4001, "logout", 4001, "logout"},
		{"normal with reason", websocket.CloseNormalClosure, "bye", websocket.CloseNormalClosure, "bye"},
		{"going away", websocket.CloseGoingAway, "", websocket.CloseGoingAway, ""},
		{"protocol error stays between client and gateway", websocket.CloseProtocolError, "oops", websocket.CloseNormalClosure, "upstream closed by gateway"},
		{"vanished client", 0, "", websocket.CloseNormalClosure, "upstream closed by gateway"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t)
			g := newGateway(t, sessionRoute(up), config.Limits{})
			ws := mustDialWS(t, g.wsURL("/chat/ws"), nil)
			if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
				t.Fatal(err)
			}
			if _, data, err := ws.ReadMessage(); err != nil || string(data) != "hello" {
				t.Fatalf("echo: %q %v", data, err)
			}
			if tc.code == 0 {
				ws.NetConn().Close()
			} else {
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(tc.code, tc.reason), time.Now().Add(time.Second))
				ws.ReadMessage() // the gateway's answer, or EOF
				ws.Close()
			}
			waitFor(t, "the upstream's close frame", func() bool { return len(up.closesSeen()) == 1 })
			if got := up.closesSeen()[0]; got.Code != tc.wantCode || got.Text != tc.wantReason {
				t.Errorf("upstream got close %d %q, want %d %q", got.Code, got.Text, tc.wantCode, tc.wantReason)
			}
		})
	}
}

// An open session WebSocket keeps the heartbeat it started with (as its
// read deadline, 2 beats + 5 s, does): a reload that raises heartbeat must
// not leave an answering client unpinged past that deadline and dropped.
// The reload lands right after the connection read its heartbeat for the
// deadline: the session pump once read it a second time there, got the
// reload's minute, and the client was dropped after 9 s (seen in CI).
func TestSessionWebSocketKeepsItsHeartbeatAcrossUpdate(t *testing.T) {
	up := newUpstream(t)
	route := sessionRoute(up)
	// 2 s, not less: the session's upstream connection keeps it too, and
	// takes an upstream silent for two beats as dead (on a loaded machine
	// 200 ms was not enough for its pong, and under a double load 1 s was
	// not always).
	route.Heartbeat = config.Duration(2 * time.Second)
	g := newGateway(t, route, config.Limits{})
	raised := route
	raised.Heartbeat = config.Duration(time.Minute)
	reloaded := make(chan struct{})
	defer bridge.OnHeartbeatRead(func() { g.rh.Update(raised); close(reloaded) })()
	ws := mustDialWS(t, g.wsURL("/chat/ws"), nil)
	waitUpstream(t, up)
	<-reloaded
	// Past the connection's read deadline (2 × 2 s + 5 s).
	expectStillPinged(t, ws, 11*time.Second, "the session WebSocket ended after the reload")
}

// TestSessionBurstReturnsMemory: a burst of session-mode WebSockets (each
// with its own upstream connection) is a burst of joins too: once it is
// over, the gateway forces the collection that gives the handshakes' and
// dials' garbage back to the system.
func TestSessionBurstReturnsMemory(t *testing.T) {
	defer bridge.SetBurstMin(20)()
	defer bridge.SetBurstQuiet(time.Second)() // the test's joins in one burst, even on a loaded machine
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	before := forcedGCs()
	for i := 0; i < 20; i++ {
		mustDialWS(t, g.wsURL("/chat/ws"), nil)
	}
	waitFor(t, "20 upstream connections", func() bool { _, opened, _ := up.stats(); return opened == 20 })
	waitFor(t, "a forced collection after the burst", func() bool { return forcedGCs() > before })
}
