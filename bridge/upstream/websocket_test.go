package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/config"
)

// wsServer runs handler for each upgraded connection and closes every
// connection when the test ends.
func wsServer(t *testing.T, subprotocols []string, handler func(ws *websocket.Conn, r *http.Request, n int)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var count atomic.Int32
	up := websocket.Upgrader{Subprotocols: subprotocols}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		handler(ws, r, int(count.Add(1)))
	}))
	t.Cleanup(srv.Close)
	return srv, &count
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat" }

func echo(ws *websocket.Conn, _ *http.Request, _ int) {
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if err := ws.WriteMessage(mt, data); err != nil {
			return
		}
	}
}

func TestWebSocketTextAndBinaryBothWaysWithSubprotocol(t *testing.T) {
	var gotHeader atomic.Value
	srv, _ := wsServer(t, []string{"chat.v1"}, func(ws *websocket.Conn, r *http.Request, n int) {
		gotHeader.Store(r.Header.Get("X-Api-Key") + "|" + r.Header.Get("Sec-WebSocket-Protocol"))
		echo(ws, r, n)
	})
	opts := testOptions(t, config.KindWebSocket, wsURL(srv))
	opts.Subprotocols = []string{"chat.v2", "chat.v1"}
	opts.Header = http.Header{"X-Api-Key": {"k1"}, "Upgrade": {"bogus"}, "Sec-Websocket-Protocol": {"bogus"}}
	conn := dial(t, opts)
	if got := conn.Subprotocol(); got != "chat.v1" {
		t.Fatalf("Subprotocol() = %q, want chat.v1", got)
	}
	sink := newRecSink()
	startRun(t, conn, sink)

	ctx := context.Background()
	if err := conn.Send(ctx, msg.Message{Data: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Send(ctx, msg.Message{Data: []byte{0, 1, 2, 0xff}, Binary: true}); err != nil {
		t.Fatal(err)
	}
	got := sink.waitMessages(t, 2)
	if string(got[0].Data) != "hello" || got[0].Binary {
		t.Errorf("first message = %+v, want text hello", got[0])
	}
	if !bytes.Equal(got[1].Data, []byte{0, 1, 2, 0xff}) || !got[1].Binary {
		t.Errorf("second message = %+v, want binary 00 01 02 ff", got[1])
	}
	if h := gotHeader.Load(); h != "k1|chat.v2, chat.v1" {
		t.Errorf("upstream saw headers %q", h)
	}
}

func TestWebSocketCloseCodeReachesRun(t *testing.T) {
	srv, _ := wsServer(t, nil, func(ws *websocket.Conn, _ *http.Request, _ int) {
		ws.WriteMessage(websocket.TextMessage, []byte("last words"))
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye now"), time.Now().Add(time.Second))
		ws.ReadMessage() // wait for the echoed close
	})
	conn := dial(t, testOptions(t, config.KindWebSocket, wsURL(srv)))
	sink := newRecSink()
	r := startRun(t, conn, sink)
	info := r.wait(t)
	if info != (msg.CloseInfo{Code: 4001, Reason: "bye now"}) {
		t.Errorf("CloseInfo = %+v, want 4001 bye now", info)
	}
	if got := dataOf(sink.messages()); len(got) != 1 || got[0] != "last words" {
		t.Errorf("messages = %q", got)
	}
	if err := conn.Send(context.Background(), msg.Message{Data: []byte("x")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after end = %v, want ErrClosed", err)
	}
}

func TestWebSocketAbnormalEndIs1006(t *testing.T) {
	srv, _ := wsServer(t, nil, func(ws *websocket.Conn, _ *http.Request, _ int) {
		ws.NetConn().Close() // no close frame
	})
	conn := dial(t, testOptions(t, config.KindWebSocket, wsURL(srv)))
	r := startRun(t, conn, newRecSink())
	if info := r.wait(t); info.Code != CloseAbnormal {
		t.Errorf("CloseInfo = %+v, want 1006", info)
	}
}

func TestWebSocketReconnectReportsGap(t *testing.T) {
	srv, count := wsServer(t, nil, func(ws *websocket.Conn, r *http.Request, n int) {
		ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "hello from connection %d", n))
		if n == 1 {
			ws.NetConn().Close() // drop the first connection abruptly
			return
		}
		echo(ws, r, n)
	})
	reg := prometheus.NewRegistry()
	opts := testOptions(t, config.KindWebSocket, wsURL(srv))
	opts.Reconnect = true
	opts.Metrics = NewMetrics(reg)
	conn := dial(t, opts)
	sink := newRecSink()
	r := startRun(t, conn, sink)
	sink.waitMessages(t, 2)

	entries := sink.snapshot()
	if len(entries) != 3 || entries[0].m.Data == nil || entries[1].gap == "" ||
		string(entries[2].m.Data) != "hello from connection 2" {
		t.Fatalf("entries = %+v, want message, gap, message", entries)
	}
	// The new connection carries sends.
	if err := conn.Send(context.Background(), msg.Message{Data: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	sink.waitMessages(t, 3)
	conn.Close()
	if info := r.wait(t); info.Code != CloseNormal {
		t.Errorf("CloseInfo after Close = %+v, want 1000", info)
	}
	if n := count.Load(); n != 2 {
		t.Errorf("upstream saw %d connections, want 2", n)
	}
	if v := testutil.ToFloat64(opts.Metrics.reconnects.WithLabelValues("/t", "websocket")); v != 1 {
		t.Errorf("reconnects_total = %v, want 1", v)
	}
	if v := testutil.ToFloat64(opts.Metrics.connects.WithLabelValues("/t", "websocket")); v != 2 {
		t.Errorf("connects_total = %v, want 2", v)
	}
}

func TestWebSocketFirstDialRetriedWhenReconnecting(t *testing.T) {
	var attempts atomic.Int32
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) <= 2 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ws.WriteMessage(websocket.TextMessage, []byte("up at last"))
		ws.ReadMessage()
	}))
	t.Cleanup(srv.Close)

	opts := testOptions(t, config.KindWebSocket, wsURL(srv))
	if _, err := Dial(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Dial without reconnect = %v, want a 503 error", err)
	}
	opts.Reconnect = true
	conn := dial(t, opts)
	sink := newRecSink()
	startRun(t, conn, sink)
	sink.waitMessages(t, 1)
	if gaps := sink.gaps(); len(gaps) != 0 {
		t.Errorf("gaps = %q, want none before the first connection", gaps)
	}
}

func TestWebSocketContextCancelSendsGoingAway(t *testing.T) {
	gotClose := make(chan int, 1)
	srv, _ := wsServer(t, nil, func(ws *websocket.Conn, _ *http.Request, _ int) {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			gotClose <- ce.Code
		}
	})
	conn := dial(t, testOptions(t, config.KindWebSocket, wsURL(srv)))
	r := startRun(t, conn, newRecSink())
	r.cancel()
	if info := r.wait(t); info.Code != CloseGoingAway {
		t.Errorf("CloseInfo = %+v, want 1001", info)
	}
	select {
	case code := <-gotClose:
		if code != websocket.CloseGoingAway {
			t.Errorf("upstream got close %d, want 1001", code)
		}
	case <-time.After(waitLimit):
		t.Fatal("upstream got no close frame")
	}
}

func TestWebSocketKeepaliveDetectsSilentUpstream(t *testing.T) {
	release := make(chan struct{})
	srv, _ := wsServer(t, nil, func(*websocket.Conn, *http.Request, int) {
		<-release // never reads, so never answers pings
	})
	t.Cleanup(func() { close(release) })
	opts := testOptions(t, config.KindWebSocket, wsURL(srv))
	opts.Route.Heartbeat = config.Duration(30 * time.Millisecond)
	conn := dial(t, opts)
	r := startRun(t, conn, newRecSink())
	info := r.wait(t)
	if info.Code != CloseAbnormal || !strings.Contains(info.Reason, "keepalive") {
		t.Errorf("CloseInfo = %+v, want 1006 keepalive", info)
	}
}

func TestWebSocketReadLimit(t *testing.T) {
	srv, _ := wsServer(t, nil, func(ws *websocket.Conn, _ *http.Request, _ int) {
		ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 100))
		ws.ReadMessage()
	})
	opts := testOptions(t, config.KindWebSocket, wsURL(srv))
	opts.MaxMessageBytes = 10
	conn := dial(t, opts)
	r := startRun(t, conn, newRecSink())
	if info := r.wait(t); info.Code != websocket.CloseMessageTooBig {
		t.Errorf("CloseInfo = %+v, want 1009", info)
	}
	if err := conn.Send(context.Background(), msg.Message{Data: bytes.Repeat([]byte("y"), 11)}); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("Send of 11 bytes = %v, want ErrMessageTooLarge", err)
	}
}

func TestWebSocketConcurrentSends(t *testing.T) {
	var mu sync.Mutex
	received := map[string]bool{}
	srv, _ := wsServer(t, nil, func(ws *websocket.Conn, _ *http.Request, _ int) {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			mu.Lock()
			received[string(data)] = true
			n := len(received)
			mu.Unlock()
			if n == 8*50 {
				ws.WriteMessage(websocket.TextMessage, []byte("all received"))
			}
		}
	})
	conn := dial(t, testOptions(t, config.KindWebSocket, wsURL(srv)))
	sink := newRecSink()
	startRun(t, conn, sink)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if err := conn.Send(context.Background(), msg.Message{Data: fmt.Appendf(nil, "%d-%d", g, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := sink.waitMessages(t, 1); string(got[0].Data) != "all received" {
		t.Errorf("got %q", got[0].Data)
	}
}

func TestWebSocketCloseBeforeRun(t *testing.T) {
	srv, _ := wsServer(t, nil, echo)
	conn := dial(t, testOptions(t, config.KindWebSocket, wsURL(srv)))
	conn.Close()
	conn.Close() // idempotent
	if info := conn.Run(context.Background(), newRecSink()); info.Code != CloseNormal {
		t.Errorf("Run after Close = %+v, want 1000", info)
	}
	if err := conn.Send(context.Background(), msg.Message{Data: []byte("x")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

func TestDialRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct{ kind, url, split string }{
		{config.KindSSE, "ws://127.0.0.1:1/x", ""},
		{config.KindPoll, "no-host", ""},
		{config.KindHTTP, "http://127.0.0.1:1/x", ""},
		{"", "http://127.0.0.1:1/x", ""},
		{config.KindPoll, "http://127.0.0.1:1/x", "lines"},
	} {
		opts := testOptions(t, tc.kind, tc.url)
		opts.Route.Upstream.Split = tc.split
		opts.Reconnect = true
		if c, err := Dial(context.Background(), opts); err == nil {
			c.Close()
			t.Errorf("Dial(%q, %q, split %q) succeeded, want a config error", tc.kind, tc.url, tc.split)
		}
	}
}
