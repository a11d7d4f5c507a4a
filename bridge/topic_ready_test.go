package bridge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// greeter is an upstream that speaks first: each connection gets the
// greetings at once, then whatever publish sends.
type greeter struct {
	srv   *httptest.Server
	mu    sync.Mutex
	conns []*websocket.Conn
}

func newGreeter(t *testing.T, greetings ...string) *greeter {
	g := &greeter{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		g.mu.Lock()
		g.conns = append(g.conns, ws)
		for _, text := range greetings {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(text))
		}
		g.mu.Unlock()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		g.mu.Lock()
		for _, c := range g.conns {
			_ = c.Close()
		}
		g.mu.Unlock()
		g.srv.Close()
	})
	return g
}

func (g *greeter) publish(text string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		_ = c.WriteMessage(websocket.TextMessage, []byte(text))
	}
}

// TestFirstSubscriberGetsTheGreeting: the subscriber that opens a topic
// (or waits for its dial) gets everything the upstream said from the
// start, even when the upstream's first messages reach the log before the
// subscriber reads it. It used to start at the log's end as it found it,
// after the greeting: lost, without a gap. The hook holds the subscriber
// until the greetings are in, which made that order certain.
func TestFirstSubscriberGetsTheGreeting(t *testing.T) {
	for _, tc := range []struct {
		name      string
		snapshot  bool
		greetings []string
	}{
		{"snapshot off", false, []string{"hi"}},
		// A snapshot is the latest message before the subscriber came: two
		// greetings after it came are both its messages.
		{"snapshot on", true, []string{"hi", "hi again"}},
	} {
		for _, clustered := range []bool{false, true} {
			name := tc.name
			if clustered {
				name += ", cluster"
			}
			t.Run(name, func(t *testing.T) { testFirstSubscriberGreeted(t, clustered, tc.snapshot, tc.greetings) })
		}
	}
}

func testFirstSubscriberGreeted(t *testing.T, clustered, snapshot bool, greetings []string) {
	defer bridge.HoldTopicWaiters(len(greetings))()
	up := newGreeter(t, greetings...)
	route := config.Route{
		Path:     "/hello",
		Upstream: config.Upstream{URL: "ws" + strings.TrimPrefix(up.srv.URL, "http"), Kind: config.KindWebSocket},
		Mode:     config.ModeBroadcast,
		Snapshot: &snapshot,
	}
	var g *gateway
	if clustered {
		g = newClusterGateways(t, route, 1)[0]
	} else {
		g = newGateway(t, route, config.Limits{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := g.openSSE(t, ctx, "/hello/sse", nil)
	defer s.resp.Body.Close()
	s.start(t)
	// Said after the subscriber is in: it ends the list either way.
	up.publish("after")
	var got []string
	for len(got) == 0 || got[len(got)-1] != "after" {
		got = append(got, s.next(t).Data)
	}
	if want := append(greetings, "after"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("the first subscriber got %q, want %q", got, want)
	}
}
