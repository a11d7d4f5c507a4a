package bridge_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/bridge/internal/ssetest"
	"github.com/bridgeway/bridgeway/config"
)

// rawSub is an HTTP/1.1 subscriber on a plain TCP connection: the test
// reads the response as sent (net/http's reader only undoes chunking and
// fails on a malformed or unterminated body).
type rawSub struct {
	conn net.Conn
	resp *http.Response
}

func dialRaw(t testing.TB, g *gateway, path string, readBuffer int) *rawSub {
	t.Helper()
	conn, err := net.Dial("tcp", g.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if readBuffer > 0 {
		_ = conn.(*net.TCPConn).SetReadBuffer(readBuffer)
	}
	_ = conn.SetDeadline(time.Now().Add(deadline))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: gw\r\nAccept: text/event-stream\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", path, resp.StatusCode)
	}
	return &rawSub{conn: conn, resp: resp}
}

// transcript is what one SSE and one NDJSON subscriber receive from the
// start of a topic to the route's shutdown, the topic's epoch replaced.
func transcript(t *testing.T, hijack, wrapped bool) (hdr [2]http.Header, body [2]string) {
	defer bridge.SetHijackStreams(hijack)()
	up := newUpstream(t)
	g := newGateway(t, broadcastRoute(up), config.Limits{})
	if wrapped {
		// Connections wrapped by the listener (as the production gateway
		// does) hide their socket: hijacked subscribers get a goroutine
		// each with blocking writes.
		srv := httptest.NewUnstartedServer(g.rh)
		srv.Listener = wrapListener{srv.Listener}
		srv.Start()
		t.Cleanup(srv.Close)
		g.srv = srv
	}
	subs := [2]*rawSub{dialRaw(t, g, "/prices/ACME/sse", 0), dialRaw(t, g, "/prices/ACME/stream", 0)}
	waitFor(t, "subscribers", func() bool {
		return metricValue(t, g, "bridgeway_bridge_clients_connected", "sse") == 1 &&
			metricValue(t, g, "bridgeway_bridge_clients_connected", "stream") == 1
	})
	waitUpstream(t, up)
	for _, m := range []string{"one", `{"p":1.5}`, "two\nlines", strings.Repeat("x", 5000)} {
		up.publish(m)
	}
	p := ssetest.NewParser(subs[0].resp.Body)
	for range 5 { // the subscriber's start and the four messages
		if _, err := p.Next(); err != nil {
			t.Fatal(err)
		}
	}
	// The NDJSON subscriber too, before the close: it may join the
	// fan-out a round after the SSE one, and a close sends no catch-up
	// (its client resumes from its cursor).
	stream := bufio.NewReader(subs[1].resp.Body)
	var streamed strings.Builder
	for range 5 { // its start line and the four messages
		line, err := stream.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		streamed.WriteString(line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := g.rh.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, s := range subs {
		var r io.Reader = s.resp.Body
		if i == 1 {
			r = io.MultiReader(strings.NewReader(streamed.String()), stream)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("hijack=%v sub %d: body not ended cleanly: %v", hijack, i, err)
		}
		if s.resp.TransferEncoding[0] != "chunked" {
			t.Fatalf("hijack=%v: transfer encoding %v", hijack, s.resp.TransferEncoding)
		}
		hdr[i] = s.resp.Header.Clone()
		hdr[i].Del("Date")
		body[i] = string(b)
	}
	// The SSE parser consumed the start of the SSE body; what it read is
	// the same in both runs, so compare what follows plus the NDJSON.
	_, idAndRest, _ := strings.Cut(body[1], `{"id":"`)
	id, _, _ := strings.Cut(idAndRest, `"`)
	epoch := id[:strings.LastIndex(id, "-")] // an epoch may contain '-'
	if epoch == "" {
		t.Fatalf("no cursor in %.200q", body[1])
	}
	for i := range body {
		body[i] = strings.ReplaceAll(body[i], epoch, "EPOCH")
	}
	return hdr, body
}

// TestHijackedStreamsSendTheSameBytes: a hijacked HTTP/1.1 subscriber gets
// the same headers and body bytes as one served by net/http, and a body
// that ends cleanly (chunk terminator) at shutdown.
func TestHijackedStreamsSendTheSameBytes(t *testing.T) {
	wantHdr, want := transcript(t, false, false)
	for _, wrapped := range []bool{false, true} {
		gotHdr, got := transcript(t, true, wrapped)
		for i := range want {
			if fmt.Sprint(gotHdr[i]) != fmt.Sprint(wantHdr[i]) {
				t.Errorf("wrapped=%v headers %d:\n got %v\nwant %v", wrapped, i, gotHdr[i], wantHdr[i])
			}
			if got[i] != want[i] {
				t.Errorf("wrapped=%v body %d:\n got %.300q\nwant %.300q", wrapped, i, got[i], want[i])
			}
		}
	}
	if !strings.Contains(want[1], `"data":"two\nlines"`) || !strings.HasSuffix(want[0], "retry: 2000\n\n") {
		t.Fatalf("unexpected transcripts: %.300q %.300q", want[0], want[1])
	}
}

// TestHijackedSlowSubscriberDoesNotHoldOthers: one subscriber stops
// reading; the other keeps receiving every message in order, the stuck
// one falls behind the buffer and, once it reads again, gets a gap event.
func TestHijackedSlowSubscriberDoesNotHoldOthers(t *testing.T) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	route.Buffer = 8
	g := newGateway(t, route, config.Limits{})
	slow := dialRaw(t, g, "/prices/ACME/sse", 16<<10)
	fast := dialRaw(t, g, "/prices/ACME/sse", 0)
	waitFor(t, "subscribers", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "sse") == 2 })
	waitUpstream(t, up)
	fp := ssetest.NewParser(fast.resp.Body)
	sseStart(t, fp)
	payload := strings.Repeat("p", 32<<10)
	// 6.4 MB: more than the slow socket's buffers hold (its receive buffer
	// is 16 KiB, the gateway's send buffer grows to 4 MiB at most). Sent in
	// bursts of 4 (the fast reader stays within the buffer of 8) so that
	// the loop ends well within writeWait: the slow subscriber, which reads
	// nothing until then, must be behind, not dropped for not reading.
	const n, burst = 200, 4
	for i := 0; i < n; i += burst {
		for j := i; j < i+burst; j++ {
			up.publish(strconv.Itoa(j) + payload)
		}
		for j := i; j < i+burst; j++ {
			ev, err := fp.Next()
			if err != nil {
				t.Fatal(err)
			}
			if ev.Type != "message" || !strings.HasPrefix(ev.Data, strconv.Itoa(j)+"p") {
				t.Fatalf("fast subscriber, message %d: %.40q", j, ev.Data)
			}
		}
	}
	up.publish("last")
	sp := ssetest.NewParser(slow.resp.Body)
	sawGap := false
	for {
		ev, err := sp.Next()
		if err != nil {
			t.Fatal(err)
		}
		sawGap = sawGap || ev.Type == "gap"
		if ev.Data == "last" {
			break
		}
	}
	if !sawGap {
		t.Fatal("the stuck subscriber did not get a gap")
	}
}

// TestHijackedSubscriberLeaving: a client closing its connection is
// noticed at the fan-out's next heartbeat peek (no message needed): the
// gauge drops and the idle topic closes its upstream.
func TestHijackedSubscriberLeaving(t *testing.T) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	route.IdleClose = durationPtr(50 * time.Millisecond)
	route.Heartbeat = config.Duration(200 * time.Millisecond)
	g := newGateway(t, route, config.Limits{})
	s := dialRaw(t, g, "/prices/ACME/stream", 0)
	waitFor(t, "subscriber", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "stream") == 1 })
	s.conn.Close()
	waitFor(t, "gauge", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "stream") == 0 })
	waitFor(t, "upstream closed", func() bool { open, _, _ := up.stats(); return open == 0 })
}

// TestSharedWebSocketControlFrames: a broadcast WebSocket written by the
// fan-out answers pings, receives messages (raw and ?format=json) and gets
// 1001 at shutdown.
func TestSharedWebSocketControlFrames(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, broadcastRoute(up), config.Limits{})
	raw := mustDialWS(t, g.wsURL("/prices/ACME/ws"), nil)
	js := mustDialWS(t, g.wsURL("/prices/ACME/ws?format=json"), nil)
	wsStart(t, js)
	waitFor(t, "subscribers", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 2 })
	waitUpstream(t, up)
	pong := make(chan string, 1)
	raw.SetPongHandler(func(data string) error { pong <- data; return nil })
	// Each client is read by its own goroutine to the end (pongs are only
	// seen while reading).
	type frame struct {
		data string
		err  error
	}
	read := func(ws *websocket.Conn) chan frame {
		ch := make(chan frame, 8)
		go func() {
			for {
				_, data, err := ws.ReadMessage()
				ch <- frame{string(data), err}
				if err != nil {
					return
				}
			}
		}()
		return ch
	}
	rawFrames, jsFrames := read(raw), read(js)
	if err := raw.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(deadline)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("b", 70000) // 64-bit length form
	sent := []string{"hello", strings.Repeat("m", 300), big}
	for _, m := range sent {
		up.publish(m)
	}
	for _, want := range sent {
		f := <-rawFrames
		if f.err != nil || f.data != want {
			t.Fatalf("raw: %.40q %v", f.data, f.err)
		}
		f = <-jsFrames
		var m message
		if f.err != nil || jsonUnmarshal(f.data, &m) != nil || m.Data != want {
			t.Fatalf("json: %.80q %v", f.data, f.err)
		}
	}
	select {
	case got := <-pong:
		if got != "are you there" {
			t.Fatalf("pong %q", got)
		}
	case <-time.After(deadline):
		t.Fatal("no pong")
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := g.rh.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan frame{rawFrames, jsFrames} {
		f := <-ch
		if ce, ok := f.err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("want 1001, got %v", f.err)
		}
	}
}

// TestSharedWebSocketSlowSubscriber: a WebSocket client that stops reading
// does not hold the others; when it falls behind the buffer it is closed
// with 1008 (raw frames cannot carry a gap).
func TestSharedWebSocketSlowSubscriber(t *testing.T) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	route.Buffer = 8
	g := newGateway(t, route, config.Limits{})
	dialer := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(256 << 10)
		}
		return c, err
	}}
	slow, _, err := dialer.Dial(g.wsURL("/prices/ACME/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast := mustDialWS(t, g.wsURL("/prices/ACME/ws"), nil)
	waitFor(t, "subscribers", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 2 })
	waitUpstream(t, up)
	payload := strings.Repeat("p", 32<<10)
	for i := range 400 {
		up.publish(strconv.Itoa(i) + payload)
		_, data, err := fast.ReadMessage()
		if err != nil || !strings.HasPrefix(string(data), strconv.Itoa(i)+"p") {
			t.Fatalf("fast subscriber, message %d: %.40q %v", i, data, err)
		}
	}
	_ = slow.SetReadDeadline(time.Now().Add(deadline))
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1008 {
			t.Fatalf("slow subscriber: want 1008, got %v", err)
		}
		break
	}
}

// waitUpstream waits for the topic's upstream connection to be registered
// by the test upstream (publish only reaches registered connections).
func waitUpstream(t testing.TB, up *testUpstream) {
	t.Helper()
	waitFor(t, "topic upstream", func() bool { open, _, _ := up.stats(); return open == 1 })
}

// wrapListener wraps accepted connections in a type that hides the socket.
type wrapListener struct{ net.Listener }

type wrappedConn struct{ net.Conn }

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wrappedConn{c}, nil
}
