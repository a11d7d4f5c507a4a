package passthrough

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestGoAwayReasonReachesTheClientFirst: the upstream answers the
// gateway's close at once (gorilla echoes the code, without a reason).
// Even when that answer is back at the gateway before the client's close
// goes out, the client reads the gateway's close with its reason, and the
// upstream's answer is not forwarded after it.
func TestGoAwayReasonReachesTheClientFirst(t *testing.T) {
	up := newEchoUpstream(t, false)
	gw := newGateway(t, route("/ws", up.srv.URL), nil)
	c := dialWS(t, wsURL(gw.srv, "/ws"))
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "hi" {
		t.Fatalf("echo %q, %v", p, err)
	}

	// Hold the client's close until the upstream's answer is back at the
	// gateway: forwarded (the bug) or held by the pump (the fix).
	answered := make(chan struct{})
	awaits := func(d *direction) {
		if d == d.t.toClient {
			close(answered)
		}
	}
	testHookPumpAwaitsInjected.Store(&awaits)
	defer testHookPumpAwaitsInjected.Store(nil)
	hold := func(tn *tunnel) {
		deadline := time.After(testDeadline)
		for !tn.toClient.forwardedClose.Load() {
			select {
			case <-answered:
				return
			case <-deadline:
				t.Error("the upstream's close answer never came back")
				return
			case <-time.After(time.Millisecond):
			}
		}
	}
	testHookGoAway.Store(&hold)
	defer testHookGoAway.Store(nil)

	read := make(chan error, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(testDeadline))
		_, _, err := c.ReadMessage() // gorilla answers the close frame itself
		read <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := gw.h.Retire(ctx); err != nil {
		t.Fatalf("closing the tunnels: %v", err)
	}
	err := recv(t, read)
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseServiceRestart || ce.Text != reasonReconfigured {
		t.Fatalf("client got %v, want close 1012 %q", err, reasonReconfigured)
	}
	if code := recv(t, up.closes); code != websocket.CloseServiceRestart {
		t.Errorf("upstream got close %d, want 1012", code)
	}
}
