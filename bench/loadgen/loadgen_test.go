package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestFanoutCountsLossDuplicatesAndReordering runs the generator for a few
// seconds against a fake gateway that loses publish 3 (with a gap marker),
// repeats publish 5 and swaps publishes 7 and 8: every subscriber must see
// exactly one lost, one duplicated and one out-of-order message.
func TestFanoutCountsLossDuplicatesAndReordering(t *testing.T) {
	g := newFakeGateway()
	defer g.close()
	g.dropPub, g.dupPub, g.swapPub = 3, 5, 7

	const perTransport = 5
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := RunFanout(ctx, FanoutConfig{
		Label:      "test",
		Server:     "fake",
		Dialect:    DialectBridgeway,
		URL:        g.srv.URL + "/t",
		PublishURL: g.srv.URL + "/pub",
		Subs: []SubGroup{
			{TransportSSE, perTransport}, {TransportWebSocket, perTransport},
			{TransportLongPoll, perTransport}, {TransportStream, perTransport},
		},
		Rate:       40,
		Count:      20, // a count, not a duration: a loaded machine must not change it
		Settle:     100 * time.Millisecond,
		Drain:      30 * time.Second, // ends early: everyone gets the last message
		ServerPIDs: []int{os.Getpid()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 4*perTransport || res.Failed != 0 {
		t.Fatalf("connected %d failed %d, errors %v", res.Connected, res.Failed, res.Errors)
	}
	if res.Published != 20 {
		t.Fatalf("published %d, want 20", res.Published)
	}
	for _, tr := range res.PerTransport {
		want := TransportResult{
			Transport: tr.Transport, Subs: perTransport, Connected: perTransport,
			Delivered:  perTransport * (res.Published - 1),
			Lost:       perTransport,
			Duplicated: perTransport,
			OutOfOrder: perTransport,
			Gaps:       perTransport,
			Latency:    tr.Latency,
		}
		if tr.Transport == TransportWebSocket {
			want.Gaps = 0 // the fake sends no gap marker over WebSocket
		}
		if tr != want {
			t.Errorf("%s:\n got %+v\nwant %+v", tr.Transport, tr, want)
		}
		if tr.Latency.Count != tr.Delivered {
			t.Errorf("%s: %d latency samples for %d deliveries", tr.Transport, tr.Latency.Count, tr.Delivered)
		}
	}
	if res.Lost != 4*perTransport || res.Expected != uint64(res.Connected)*res.Published {
		t.Errorf("totals: lost %d expected %d", res.Lost, res.Expected)
	}
	if res.RSSConnectedKiB == 0 || res.ServerProcs == 0 {
		t.Errorf("no /proc sample of our own pid: %+v", res)
	}

	var human, line bytes.Buffer
	res.WriteHuman(&human)
	if !strings.Contains(human.String(), "lost 20, duplicated 20, out of order 20") {
		t.Errorf("human table misses the counts:\n%s", human.String())
	}
	if err := WriteJSONLine(&line, res); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(&line)
	if err != nil || len(back.Fanout) != 1 || back.Fanout[0].Lost != res.Lost {
		t.Fatalf("JSON line did not read back: %v %+v", err, back)
	}
	var md bytes.Buffer
	back.WriteMarkdown(&md)
	if !strings.Contains(md.String(), "| test | fake | 1 | 20 (20) |") {
		t.Errorf("markdown table:\n%s", md.String())
	}
}

// TestFanoutCleanRunLosesNothing: the same fake without injected faults,
// with three concurrent publishers (order is kept per publisher).
func TestFanoutCleanRunLosesNothing(t *testing.T) {
	res := runOnFakeGateway(t, FanoutConfig{
		Subs: []SubGroup{{TransportSSE, 3}, {TransportWebSocket, 3}, {TransportLongPoll, 3}},
		Rate: 60, Publishers: 3, Count: 30, Settle: 50 * time.Millisecond, Drain: 20 * time.Second,
	})
	if res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || res.Delivered != res.Expected || res.Expected == 0 {
		t.Fatalf("clean run: %+v", res)
	}
}

// TestPollCyclesAreAnswersInTheWindow: a long-poll cycle is an answer from
// the poller's first one with a message on, so neither the subscribe that
// bridgeway answers at once nor the poll left parked at the end counts (they
// made bridgeway's cycles read 1.05× nchan's for the same work). Every
// answer the fake wrote with messages is a cycle; one it wrote empty may be
// (a 2 s wait that ran out) or not (the parked poll ended by the stop).
func TestPollCyclesAreAnswersInTheWindow(t *testing.T) {
	g := newFakeGateway()
	defer g.close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := RunFanout(ctx, FanoutConfig{
		Dialect: DialectBridgeway, URL: g.srv.URL + "/t", PublishURL: g.srv.URL + "/pub",
		Subs: []SubGroup{{TransportLongPoll, 3}}, Rate: 20, Count: 10,
		Settle: 50 * time.Millisecond, Drain: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.Delivered != 30 {
		t.Fatalf("run: %+v", res)
	}
	carrying, empty := uint64(g.pollsCarrying.Load()), uint64(g.pollsEmpty.Load())
	if res.PollCycles < carrying || res.PollCycles > carrying+empty {
		t.Fatalf("%d poll cycles counted; the fake answered %d polls with messages and %d without after the subscribes",
			res.PollCycles, carrying, empty)
	}
}

// TestIdleRunSendsOneProbe: with rate 0 the run reads memory and then
// publishes exactly one message, which every subscriber must get.
func TestIdleRunSendsOneProbe(t *testing.T) {
	res := runOnFakeGateway(t, FanoutConfig{
		Subs: []SubGroup{{TransportSSE, 2}, {TransportWebSocket, 2}},
		Rate: 0, Settle: 50 * time.Millisecond, Drain: 20 * time.Second,
		ServerPIDs: []int{os.Getpid()},
	})
	// the fake gateway is this process: its writes of the probe are counted
	if res.Published != 1 || res.Delivered != 4 || res.Lost != 0 || res.RSSConnectedKiB == 0 || res.ServerWrites == 0 {
		t.Fatalf("idle run: %+v", res)
	}
}

// TestUpstreamServerFeedsWebSocketAndSSE checks the built-in upstream that
// bridgeway's broadcast routes point at.
func TestUpstreamServerFeedsWebSocketAndSSE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ws, err := startUpstreamServer("127.0.0.1:0", UpstreamWebSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.close()
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+ws.addr()+"/feed", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := ws.waitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ws.publish(ctx, []byte("hello ws")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, got, err := conn.ReadMessage(); err != nil || string(got) != "hello ws" {
		t.Fatalf("websocket upstream sent %q, %v", got, err)
	}

	sse, err := startUpstreamServer("127.0.0.1:0", UpstreamSSE)
	if err != nil {
		t.Fatal(err)
	}
	defer sse.close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+sse.addr()+"/feed", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := sse.waitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sse.publish(ctx, []byte("hello sse")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: hello sse\n" {
		t.Fatalf("sse upstream sent %q, %v", line, err)
	}
}

// TestEchoAgainstEchoServer runs the echo mode against the built-in echo
// upstream directly (no gateway in between).
func TestEchoAgainstEchoServer(t *testing.T) {
	srv, err := StartEchoServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := RunEcho(ctx, EchoConfig{URL: "ws://" + srv.Addr() + "/echo", Conns: 4,
		Duration: 300 * time.Millisecond, Settle: 10 * time.Millisecond, ServerPIDs: []int{os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 4 || res.RoundTrips == 0 || res.Unexpected != 0 || len(res.Errors) != 0 {
		t.Fatalf("echo: %+v", res)
	}
	if res.Latency.Count != res.RoundTrips {
		t.Errorf("%d latency samples for %d round trips", res.Latency.Count, res.RoundTrips)
	}
}
