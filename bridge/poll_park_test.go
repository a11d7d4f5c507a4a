//go:build linux

package bridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/testdeps"
)

func startParkGateway(t *testing.T, up *testUpstream, routeYAML string) *parkGateway {
	t.Helper()
	return startParkGatewayTB(t, up, routeYAML)
}

func startParkGatewayTB(t testing.TB, up *testUpstream, routeYAML string) *parkGateway {
	t.Helper()
	return startWholeGateway(t, "routes:\n  - path: /chat\n    mode: broadcast\n    snapshot: false\n"+
		"    upstream: {url: \""+up.url("/feed")+"\"}\n"+routeYAML)
}

// clients is the bridge_clients_connected gauge of the long-poll transport.
func (g *parkGateway) clients(t *testing.T) float64 {
	return g.metric(t, "bridgeway_bridge_clients_connected", config.TransportLongPoll)
}

// openCursor opens a subscription with a plain poll and returns its cursor.
func (g *parkGateway) openCursor(t testing.TB) string {
	t.Helper()
	resp, err := http.Get("http://" + g.addr + "/chat/poll")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a parkAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.Cursor == "" {
		t.Fatalf("open: %v %+v", err, a)
	}
	return a.Cursor
}

// longPollMetric is the value of a bridge metric's long-poll series.
func (g *parkGateway) longPollMetric(t *testing.T, name string) float64 {
	return g.metric(t, name, config.TransportLongPoll)
}

// metric is the value of a bridge metric's series for transport.
func (g *parkGateway) metric(t testing.TB, name, transport string) float64 {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "transport" && l.GetValue() == transport {
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// rawPoller is one keep-alive connection with hand-written requests.
type rawPoller struct {
	conn net.Conn
	br   *bufio.Reader
}

func (g *parkGateway) dial(t *testing.T) *rawPoller {
	t.Helper()
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(deadline))
	return &rawPoller{conn: c, br: bufio.NewReader(c)}
}

func (p *rawPoller) send(t *testing.T, query string, extra string) {
	t.Helper()
	req := "GET /chat/poll" + query + " HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n" + extra + "\r\n"
	if _, err := io.WriteString(p.conn, req); err != nil {
		t.Fatal(err)
	}
}

// read reads one response.
func (p *rawPoller) read(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// expectEOF checks that the gateway closed the connection.
func (p *rawPoller) expectEOF(t *testing.T) {
	t.Helper()
	if n, err := p.br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection still open after Connection: close (%d, %v)", n, err)
	}
}

// parkPollers opens a subscription on a connection of its own and parks n
// polls at its cursor, each on its own connection; it returns that cursor.
func (g *parkGateway) parkPollers(t *testing.T, n int) (string, []*rawPoller) {
	t.Helper()
	ref := g.dial(t)
	ref.send(t, "", "")
	first := ref.answer(t)
	pollers := make([]*rawPoller, n)
	for i := range pollers {
		pollers[i] = g.dial(t)
		pollers[i].send(t, "?cursor="+first.Cursor, "")
	}
	waitFor(t, "all parked", func() bool { return g.clients(t) == float64(n) })
	return first.Cursor, pollers
}

// answer reads and decodes one 200 answer.
func (p *rawPoller) answer(t *testing.T) parkAnswer {
	t.Helper()
	resp, body := p.read(t)
	return decodePark(t, resp, body)
}

type parkAnswer struct {
	Cursor   string `json:"cursor"`
	Messages []struct {
		ID   string `json:"id"`
		Data string `json:"data"`
	} `json:"messages"`
	Closed *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"closed"`
}

func decodePark(t *testing.T, resp *http.Response, body []byte) parkAnswer {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("poll: %d %s", resp.StatusCode, body)
	}
	var a parkAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("poll body %q: %v", body, err)
	}
	return a
}

// headerSet is a response's header names and values but Date.
func headerSet(h http.Header) string {
	var lines []string
	for k, vs := range h {
		if k == "Date" {
			continue
		}
		lines = append(lines, k+": "+strings.Join(vs, ","))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestParkedPollsKeepAliveCycles: 200 pollers, each on one keep-alive
// connection, get every message of 3 cycles in order, once, with the bytes
// and headers of the unparked path, and keep using their connection; with
// the answers sent in batches (io_uring) and one at a time.
func TestParkedPollsKeepAliveCycles(t *testing.T) {
	t.Run("batched", func(t *testing.T) {
		if os.Getenv("BRIDGEWAY_IO_URING") == "off" {
			t.Skip("this is the run without io_uring (TestParkedPollsWithoutIOURing)")
		}
		if err := bridge.BatchesUnusable(); err != nil {
			testdeps.Missing(t, "io_uring: "+err.Error())
		}
		answers, reads := bridge.AnswersBatched(), bridge.NextReadsBatched()
		keepAliveCycles(t)
		// Every answer of the 3 cycles went in a batch, and the next polls
		// of 2 cycles were read in batches (a few may be read by their
		// owner, when they came before it began to wait).
		if got := bridge.AnswersBatched() - answers; got < 3*200 {
			t.Fatalf("%d answers sent in batches, want at least 600", got)
		}
		if got := bridge.NextReadsBatched() - reads; got < 200 {
			t.Fatalf("%d next polls read in batches, want most of 600", got)
		}
	})
	t.Run("one at a time", func(t *testing.T) {
		defer bridge.SetBatchIO(false)()
		answers, reads := bridge.AnswersBatched(), bridge.NextReadsBatched()
		keepAliveCycles(t)
		if got := bridge.AnswersBatched() - answers + bridge.NextReadsBatched() - reads; got != 0 {
			t.Fatalf("%d answers sent or polls read in batches with batches off", got)
		}
	})
}

func keepAliveCycles(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")

	// The reference: the same answer from the handler's path.
	ref := g.dial(t)
	ref.send(t, "", "")
	first := ref.answer(t)
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })

	const n = 200
	pollers := make([]*rawPoller, n)
	cursors := make([]string, n)
	for i := range pollers {
		pollers[i] = g.dial(t)
		pollers[i].send(t, "?cursor="+first.Cursor, "")
		cursors[i] = first.Cursor
	}
	waitFor(t, "all pollers parked", func() bool { return g.clients(t) >= n })

	restore := bridge.SetParkPolls(false)
	ref.send(t, "?cursor="+first.Cursor, "")
	waitFor(t, "the reference poll held", func() bool { return g.clients(t) >= n+1 })
	restore()

	for cycle := range 3 {
		text := fmt.Sprintf("cycle-%d", cycle)
		up.publish(text)
		var refResp *http.Response
		var refBody []byte
		if cycle == 0 {
			refResp, refBody = ref.read(t)
		}
		var wg sync.WaitGroup
		errs := make(chan string, n)
		for i, p := range pollers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.ReadResponse(p.br, nil)
				if err != nil {
					errs <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var a parkAnswer
				if resp.StatusCode != 200 || json.Unmarshal(body, &a) != nil || len(a.Messages) != 1 || a.Messages[0].Data != text {
					errs <- fmt.Sprintf("poller %d cycle %d: %d %s", i, cycle, resp.StatusCode, body)
					return
				}
				if refResp != nil {
					if string(body) != string(refBody) {
						errs <- fmt.Sprintf("parked body %s, handler's %s", body, refBody)
					}
					if headerSet(resp.Header) != headerSet(refResp.Header) || resp.Header.Get("Date") == "" {
						errs <- fmt.Sprintf("parked headers\n%s\nhandler's\n%s", headerSet(resp.Header), headerSet(refResp.Header))
					}
				}
				cursors[i] = a.Cursor
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
		// The next poll goes on the same connection: only a kept-alive
		// connection answers it.
		for i, p := range pollers {
			p.send(t, "?cursor="+cursors[i], "")
		}
		waitFor(t, "all pollers parked again", func() bool { return g.clients(t) >= n })
	}
}

// TestParkedPollTimeout: poll_timeout answers the empty answer with the
// cursor; the connection then serves the next poll.
func TestParkedPollTimeout(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 200ms\n")
	p := g.dial(t)
	p.send(t, "", "")
	first := p.answer(t)
	for range 2 {
		p.send(t, "?cursor="+first.Cursor, "")
		a := p.answer(t)
		if a.Cursor != first.Cursor || len(a.Messages) != 0 || a.Closed != nil {
			t.Fatalf("timeout answer %+v, want the empty answer at %s", a, first.Cursor)
		}
	}
	waitFor(t, "no client counted", func() bool { return g.clients(t) == 0 })
}

// TestParkedPollConnectionClose: a request with Connection: close gets its
// answer with Connection: close, then the connection ends.
func TestParkedPollConnectionClose(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p := g.dial(t)
	p.send(t, "", "")
	first := p.answer(t)
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	p.send(t, "?cursor="+first.Cursor, "Connection: close\r\n")
	waitFor(t, "poll parked", func() bool { return g.clients(t) == 1 })
	up.publish("bye")
	resp, body := p.read(t)
	if a := decodePark(t, resp, body); len(a.Messages) != 1 || a.Messages[0].Data != "bye" {
		t.Fatalf("answer %s", body)
	}
	if !resp.Close { // ReadResponse takes "Connection: close" out of the header into Close
		t.Fatalf("answer without Connection: close: %v", resp.Header)
	}
	p.expectEOF(t)
}

// TestParkedPollClientLeaves: a client that closes while parked is let go
// at the fan-out's next heartbeat (before poll_timeout): the gauge goes
// down, and once the last subscriber is gone the topic closes its upstream
// (idle_close).
func TestParkedPollClientLeaves(t *testing.T) {
	up := newUpstream(t)
	// idle_close 1s, not 10ms: the topic is idle from the first answer
	// until the second poll parks, and a loaded machine let it close in
	// between. heartbeat 1s: the topic's upstream must pong within two.
	g := startParkGateway(t, up, "    poll_timeout: 1h\n    heartbeat: 1s\n    idle_close: 1s\n")
	p := g.dial(t)
	p.send(t, "", "")
	first := p.answer(t)
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	p.send(t, "?cursor="+first.Cursor, "")
	waitFor(t, "poll parked", func() bool { return g.clients(t) == 1 })
	p.conn.Close()
	waitFor(t, "client let go", func() bool { return g.clients(t) == 0 })
	waitFor(t, "upstream closed", func() bool { open, _, _ := up.stats(); return open == 0 })
}

// TestParkedPollsShutdown: 100 parked polls are answered at shutdown (with
// Connection: close), and shutdown ends.
func TestParkedPollsShutdown(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 1h\n")
	cursor, pollers := g.parkPollers(t, 100)
	done := make(chan error, 1)
	go func() { done <- g.srv.Shutdown(context.Background()) }()
	for i, p := range pollers {
		resp, body := p.read(t)
		a := decodePark(t, resp, body)
		if a.Cursor != cursor || len(a.Messages) != 0 {
			t.Fatalf("poller %d: shutdown answer %s", i, body)
		}
		if !resp.Close {
			t.Fatalf("poller %d: shutdown answer keeps the connection", i)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestParkedPollsRouteClose: a reload that removes the route answers its
// parked polls, with Connection: close (docs/architecture.md: an answer
// during route close ends its connection), and the connection ends.
func TestParkedPollsRouteClose(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 1h\n")
	cursor, pollers := g.parkPollers(t, 20)
	cfg, err := config.Parse("park2.yaml", []byte("listen: 127.0.0.1:0\nadmin: {listen: \"\"}\nlog: {access: false}\nroutes:\n  - path: /other\n    upstream: {url: \"http://127.0.0.1:1\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.srv.Reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	for i, p := range pollers {
		resp, body := p.read(t)
		if a := decodePark(t, resp, body); a.Cursor != cursor {
			t.Fatalf("poller %d: answer %s", i, body)
		}
		if !resp.Close {
			t.Fatalf("poller %d: answer at route close keeps the connection", i)
		}
		p.expectEOF(t)
	}
}

// TestParkedPollCORS: an allowed cross-origin poll gets its CORS headers
// in the parked answer.
func TestParkedPollCORS(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n    origins: [\"https://app.example\"]\n")
	p := g.dial(t)
	origin := "Origin: https://app.example\r\n"
	p.send(t, "", origin)
	first := p.answer(t)
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	p.send(t, "?cursor="+first.Cursor, origin)
	waitFor(t, "poll parked", func() bool { return g.clients(t) == 1 })
	up.publish("cors")
	resp, body := p.read(t)
	decodePark(t, resp, body)
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Fatalf("Access-Control-Allow-Origin %q in %v", got, resp.Header)
	}
	if resp.Header.Get("Vary") != "Origin" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers %v", resp.Header)
	}
}

// TestParkedPollPipelined: a client that sends its next request before
// the answer (pipelining) is answered in order (pipelineTwoPolls).
func TestParkedPollPipelined(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p := g.dial(t)
	p.send(t, "", "")
	first := p.answer(t)
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	g.pipelineTwoPolls(t, up, p, first.Cursor)
}

// pipelineTwoPolls sends two polls at cursor at once on p and checks both
// are answered in order with the message published after them. Normally
// the first answer says Connection: close and the connection ends
// (net/http's reader took the second request with it). A message that
// lands before the first request is collected answers it at once,
// keep-alive, and the second follows: correct too, nothing lost or
// reordered, so both outcomes pass.
func (g *parkGateway) pipelineTwoPolls(t *testing.T, up *testUpstream, p *rawPoller, cursor string) {
	t.Helper()
	two := "GET /chat/poll?cursor=" + cursor + " HTTP/1.1\r\nHost: gw\r\n\r\n"
	// The poll answered before leaves the gauge just after its answer: the
	// wait below must see the new one (seen 1 in 100 runs without this).
	waitFor(t, "the poll before released", func() bool { return g.clients(t) == 0 })
	if _, err := io.WriteString(p.conn, two+two); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "poll held", func() bool { return g.clients(t) == 1 })
	up.publish("one")
	for i := range 2 {
		resp, body := p.read(t)
		if a := decodePark(t, resp, body); len(a.Messages) != 1 || a.Messages[0].Data != "one" {
			t.Fatalf("answer %d: %s", i+1, body)
		}
		if resp.Close {
			p.expectEOF(t)
			return
		}
	}
}

// TestParkedPollMessagesOut: parked answers count their messages.
func TestParkedPollMessagesOut(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p := g.dial(t)
	p.send(t, "", "")
	first := p.answer(t)
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	p.send(t, "?cursor="+first.Cursor, "")
	waitFor(t, "poll parked", func() bool { return g.clients(t) == 1 })
	up.publish("counted")
	p.answer(t)
	// Counted once the answer is out, which the client may see first;
	// bytes_out moves after messages_out, so wait for it.
	waitFor(t, "bytes_out", func() bool {
		return g.longPollMetric(t, "bridgeway_bridge_bytes_out_total") >= float64(len("counted"))
	})
	if out := g.longPollMetric(t, "bridgeway_bridge_messages_out_total"); out != 1 {
		t.Fatalf("messages_out %v, want 1", out)
	}
	if out := g.longPollMetric(t, "bridgeway_bridge_bytes_out_total"); out != float64(len("counted")) {
		t.Fatalf("bytes_out %v, want %d", out, len("counted"))
	}
}

// TestParkedJSONP: a held JSONP poll is parked too, and answers the bytes
// and headers of the handler's path.
func TestParkedJSONP(t *testing.T) {
	up := newUpstream(t)
	g, parked, held, cursor := startParkPair(t, up)
	g.parkAndHold(t, parked, held, "?callback=cb&cursor="+cursor, config.TransportJSONP)
	up.publish("jsonp")
	resp, body := parked.read(t)
	refResp, refBody := held.read(t)
	if !strings.HasPrefix(string(body), "/**/cb({") || !strings.Contains(string(body), `"data":"jsonp"`) {
		t.Fatalf("parked JSONP answer %s", body)
	}
	if string(body) != string(refBody) || headerSet(resp.Header) != headerSet(refResp.Header) {
		t.Fatalf("parked %v %s\nheld %v %s", resp.Header, body, refResp.Header, refBody)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/javascript" {
		t.Fatalf("content type %q", ct)
	}
}

// TestHeldPollWithBody: a GET poll with a body is held by its handler (not
// parked): the body is not taken for the next request, which is answered
// on the same connection.
func TestHeldPollWithBody(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p := g.dial(t)
	p.send(t, "", "")
	first := p.answer(t)
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	req := "GET /chat/poll?cursor=" + first.Cursor + " HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello"
	if _, err := io.WriteString(p.conn, req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "poll held", func() bool { return g.clients(t) == 1 })
	if n := bridge.ParkedPolls(g.rh); n != 0 {
		t.Fatalf("%d polls parked, want the handler to hold it", n)
	}
	up.publish("body")
	if a := p.answer(t); len(a.Messages) != 1 || a.Messages[0].Data != "body" {
		t.Fatalf("answer %+v", a)
	}
	p.send(t, "?cursor="+first.Cursor, "")
	if a := p.answer(t); len(a.Messages) != 1 {
		t.Fatalf("next answer on the connection %+v", a)
	}
}

// TestParkedPollLimits: a parked poll honours ?max_messages= and
// ?max_bytes= as the handler's path does: the same bytes and headers.
func TestParkedPollLimits(t *testing.T) {
	up := newUpstream(t)
	g, parked, held, cursor := startParkPair(t, up)
	for _, limit := range []string{"max_messages=1", "max_bytes=1"} {
		query := "?" + limit + "&cursor=" + cursor
		g.parkAndHold(t, parked, held, query, config.TransportLongPoll)
		// Whatever the log holds when the polls are answered, each takes
		// one message.
		up.publish("one")
		up.publish("two")
		up.publish("three")
		resp, body := parked.read(t)
		refResp, refBody := held.read(t)
		a := decodePark(t, resp, body)
		if len(a.Messages) != 1 || a.Messages[0].Data != "one" {
			t.Fatalf("%s: parked answer %s, want the first message alone", query, body)
		}
		if string(body) != string(refBody) || headerSet(resp.Header) != headerSet(refResp.Header) {
			t.Fatalf("%s: parked %v %s\nheld %v %s", query, resp.Header, body, refResp.Header, refBody)
		}
		cursor = a.Messages[0].ID
		// Catch up to the end for the next round.
		for _, more := range []string{"two", "three"} {
			held.send(t, "?max_messages=1&cursor="+cursor, "")
			m := held.answer(t)
			if len(m.Messages) != 1 || m.Messages[0].Data != more {
				t.Fatalf("catching up: %+v, want %s", m, more)
			}
			cursor = m.Messages[0].ID
		}
	}
}

// startParkPair starts a gateway with two keep-alive connections to its
// topic, one to be parked and one held by its handler, and returns the
// cursor of the subscription.
func startParkPair(t *testing.T, up *testUpstream) (g *parkGateway, parked, held *rawPoller, cursor string) {
	t.Helper()
	g = startParkGateway(t, up, "    poll_timeout: 25s\n")
	parked, held = g.dial(t), g.dial(t)
	parked.send(t, "", "")
	first := parked.answer(t)
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	return g, parked, held, first.Cursor
}

// parkAndHold sends the same poll on parked (which parks it) and on held
// with parking off (its handler holds it), and waits until both wait.
func (g *parkGateway) parkAndHold(t *testing.T, parked, held *rawPoller, query, transport string) {
	t.Helper()
	clients := func() float64 { return g.metric(t, "bridgeway_bridge_clients_connected", transport) }
	parked.send(t, query, "")
	waitFor(t, "poll parked", func() bool { return clients() == 1 && bridge.ParkedPolls(g.rh) == 1 })
	restore := bridge.SetParkPolls(false)
	held.send(t, query, "")
	waitFor(t, "poll held", func() bool { return clients() == 2 })
	restore()
}
