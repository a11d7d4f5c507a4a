//go:build linux

package bridge_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge"
)

// byteMatchedPoller is a keep-alive connection whose last poll the bridge
// read and parked (so it keeps that poll's head): its next poll with the
// same bytes but the cursor is matched by them.
func (g *parkGateway) byteMatchedPoller(t *testing.T, up *testUpstream, text string) (*rawPoller, string) {
	t.Helper()
	p, cursor := g.waitingPoller(t, up, text+"-first")
	before := bridge.NextPollsParked()
	p.send(t, "?cursor="+cursor, "")
	waitFor(t, "poll parked", func() bool { return bridge.ParkedPolls(g.rh) == 1 })
	up.publish(text)
	a := p.answer(t)
	if len(a.Messages) != 1 || a.Messages[0].Data != text {
		t.Fatalf("answer %+v, want %q", a, text)
	}
	if got := bridge.NextPollsParked() - before; got != 1 {
		t.Fatalf("%d polls read by the bridge, want 1", got)
	}
	return p, a.Cursor
}

// cycle sends a poll at cursor with extra header lines, publishes text
// once it is parked, and returns the answer's cursor.
func (g *parkGateway) cycle(t *testing.T, up *testUpstream, p *rawPoller, cursor, extra, text string) string {
	t.Helper()
	p.send(t, "?cursor="+cursor, extra)
	waitFor(t, "poll parked", func() bool { return bridge.ParkedPolls(g.rh) == 1 })
	up.publish(text)
	a := p.answer(t)
	if len(a.Messages) != 1 || a.Messages[0].Data != text {
		t.Fatalf("answer %+v, want only %q", a, text)
	}
	return a.Cursor
}

// TestNextPollsMatchedByTheirBytes: once the bridge has read one poll of
// a connection, every later poll with the same bytes but its cursor parks
// again without the route's handler, gets every message once and in
// order, and is counted in the request metrics (access log off); a poll
// with another header is not matched by its bytes and is answered all the
// same.
func TestNextPollsMatchedByTheirBytes(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p, cursor := g.byteMatchedPoller(t, up, "one")
	requests := g.metricNoLabels(t, "bridgeway_proxy_requests_total", "route", "/chat")
	before := bridge.NextPollsRaw()
	const cycles = 20
	for i := range cycles {
		cursor = g.cycle(t, up, p, cursor, "", fmt.Sprintf("m-%d", i))
	}
	if got := bridge.NextPollsRaw() - before; got != cycles {
		t.Fatalf("%d polls matched by their bytes, want %d", got, cycles)
	}
	if got := g.metricNoLabels(t, "bridgeway_proxy_requests_total", "route", "/chat") - requests; got != cycles {
		t.Fatalf("%v requests counted for %d polls", got, cycles)
	}
	g.cycle(t, up, p, cursor, "X-Other: 1\r\n", "other")
	if got := bridge.NextPollsRaw() - before; got != cycles {
		t.Fatalf("a poll with another header was matched by its bytes (%d)", got-cycles)
	}
}

// TestNextPollUnusualRequestsAfterByteMatchedPolls: what the bridge read
// from the socket to match by bytes and then hands to net/http reaches it
// first and whole: every unusual request gets the answer a fresh
// connection gets.
func TestNextPollUnusualRequestsAfterByteMatchedPolls(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	g.unusualNextRequests(t, up, g.byteMatchedPoller)
}

// TestNextPollsNotMatchingTheirBytes: a cursor behind the log's end is
// matched by its bytes, and the fan-out's answer is the handler's
// (headers but Date, body); next polls that differ from the kept head in
// more than a plain cursor are served as net/http serves them: an escaped
// cursor and a poll split across two writes park and get the next
// message, another request in between is answered and the connection
// goes on polling (its next polls read by the bridge again).
func TestNextPollsNotMatchingTheirBytes(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")

	t.Run("cursor behind", func(t *testing.T) {
		p, cursor := g.byteMatchedPoller(t, up, "b0")
		behind := cursor
		cursor = g.cycle(t, up, p, cursor, "", "b1")
		up.publish("b2")
		waitFor(t, "b2 in the log", func() bool {
			fresh := g.dial(t)
			fresh.send(t, "?cursor="+cursor+"&wait=0", "")
			return len(fresh.answer(t).Messages) == 1
		})
		before := bridge.NextPollsRaw()
		req := "GET /chat/poll?cursor=" + behind + " HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n"
		resp, body := exchangeRaw(t, p.conn, p.br, req)
		if a := decodePark(t, resp, []byte(body)); len(a.Messages) != 2 || a.Messages[0].Data != "b1" || a.Messages[1].Data != "b2" {
			t.Fatalf("answer %+v, want b1 and b2", a)
		}
		if bridge.NextPollsRaw() != before+1 {
			t.Fatal("a poll behind the log's end was not matched by its bytes")
		}
		fresh := g.dial(t)
		want, wantBody := exchangeRaw(t, fresh.conn, fresh.br, req)
		if body != wantBody || headerSet(resp.Header) != headerSet(want.Header) || resp.Close != want.Close {
			t.Fatalf("answered by the fan-out:\n%s\n%s\nby the handler:\n%s\n%s", headerSet(resp.Header), body, headerSet(want.Header), wantBody)
		}
	})
	t.Run("escaped cursor", func(t *testing.T) {
		p, cursor := g.byteMatchedPoller(t, up, "e0")
		before := bridge.NextPollsRaw()
		g.cycle(t, up, p, strings.Replace(cursor, "-", "%2D", 1), "", "e1")
		if bridge.NextPollsRaw() != before {
			t.Fatal("an escaped cursor was matched by its bytes")
		}
	})
	t.Run("split", func(t *testing.T) {
		p, cursor := g.byteMatchedPoller(t, up, "s0")
		req := "GET /chat/poll?cursor=" + cursor + " HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n"
		if _, err := io.WriteString(p.conn, req[:20]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // two reads, most likely (either way the same answer)
		if _, err := io.WriteString(p.conn, req[20:]); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "poll parked", func() bool { return bridge.ParkedPolls(g.rh) == 1 })
		up.publish("s1")
		if a := p.answer(t); len(a.Messages) != 1 || a.Messages[0].Data != "s1" {
			t.Fatalf("answer %+v, want s1", a)
		}
	})
	t.Run("another request between", func(t *testing.T) {
		p, cursor := g.byteMatchedPoller(t, up, "a0")
		resp, body := exchangeRaw(t, p.conn, p.br, "GET /nope HTTP/1.1\r\nHost: gw\r\n\r\n")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "route_not_found") || resp.Close {
			t.Fatalf("another request: %d close=%v %s", resp.StatusCode, resp.Close, body)
		}
		cursor = g.cycle(t, up, p, cursor, "", "a1") // parked by net/http's handler
		before := bridge.NextPollsParked()
		g.cycle(t, up, p, cursor, "", "a2")
		if bridge.NextPollsParked() == before {
			t.Fatal("the poll after a handed-back request was not read by the bridge")
		}
	})
}

// TestNextPollWaitersHoldNoGoroutine: connections waiting for their next
// poll cost no goroutine each (one epoll set for all), and their next
// polls are read and answered.
func TestNextPollWaitersHoldNoGoroutine(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	const n = 40
	_, pollers := g.parkPollers(t, n)
	waitFor(t, "all parked", func() bool { return bridge.ParkedPolls(g.rh) == n })
	base := runtime.NumGoroutine() // parked polls have none
	up.publish("one")
	cursors := make([]string, n)
	for i, p := range pollers {
		a := p.answer(t)
		if len(a.Messages) != 1 || a.Messages[0].Data != "one" {
			t.Fatalf("poller %d: %+v", i, a)
		}
		cursors[i] = a.Cursor
	}
	extra := n
	for range 50 { // what wrote the answers ends soon after them
		if extra = runtime.NumGoroutine() - base; extra < n/4 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if extra >= n/4 {
		t.Fatalf("%d more goroutines for %d connections waiting for their next poll", extra, n)
	}
	for i, p := range pollers {
		p.send(t, "?cursor="+cursors[i], "")
	}
	waitFor(t, "all parked", func() bool { return bridge.ParkedPolls(g.rh) == n })
	up.publish("two")
	for i, p := range pollers {
		if a := p.answer(t); len(a.Messages) != 1 || a.Messages[0].Data != "two" {
			t.Fatalf("poller %d: %+v", i, a)
		}
	}
}

// TestByteMatchedWaitersAtCloseAndLeave: a connection whose polls are
// matched by their bytes is handed back at route removal (answered on the
// new routes), ends at shutdown, is released when its client leaves and
// closed at read_header_timeout when the client stays silent.
func TestByteMatchedWaitersAtCloseAndLeave(t *testing.T) {
	t.Run("route removed", func(t *testing.T) {
		up := newUpstream(t)
		g := startParkGateway(t, up, "    poll_timeout: 25s\n")
		p, cursor := g.byteMatchedPoller(t, up, "one")
		g.removeRouteThenPoll(t, p, cursor)
	})
	t.Run("shutdown", func(t *testing.T) {
		up := newUpstream(t)
		g := startParkGateway(t, up, "    poll_timeout: 25s\n")
		p, _ := g.byteMatchedPoller(t, up, "one")
		g.shutdownEndsIt(t, p)
	})
	t.Run("leave and silence", func(t *testing.T) {
		up := newUpstream(t)
		g := startOneConnGateway(t, up)
		g.leaveThenSilence(t, up, g.byteMatchedPoller)
	})
}

// TestNextRequestSentWhileParked: a request that arrives while the poll
// before it is parked (the bridge is told of it then, once) is read once
// the answer is out: here another request, which net/http answers after
// the poll's answer.
func TestNextRequestSentWhileParked(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p, cursor := g.byteMatchedPoller(t, up, "one")
	p.send(t, "?cursor="+cursor, "")
	waitFor(t, "poll parked", func() bool { return bridge.ParkedPolls(g.rh) == 1 })
	if _, err := io.WriteString(p.conn, "GET /nope HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	up.publish("two")
	if a := p.answer(t); len(a.Messages) != 1 || a.Messages[0].Data != "two" {
		t.Fatalf("answer %+v, want two", a)
	}
	resp, body := p.read(t)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "route_not_found") {
		t.Fatalf("the request sent while parked: %d %s", resp.StatusCode, body)
	}
}

// TestByteMatchedPollsTimeOut: polls re-parked by their bytes are
// answered at poll_timeout (one timer per connection, kept across polls)
// with the empty answer at their cursor, poll after poll, and the next
// message still comes.
func TestByteMatchedPollsTimeOut(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 1500ms\n")
	p, cursor := g.byteMatchedPoller(t, up, "one")
	before := bridge.NextPollsRaw()
	for range 2 {
		p.send(t, "?cursor="+cursor, "")
		if a := p.answer(t); a.Cursor != cursor || len(a.Messages) != 0 || a.Closed != nil {
			t.Fatalf("timeout answer %+v, want the empty answer at %s", a, cursor)
		}
	}
	g.cycle(t, up, p, cursor, "", "two")
	if got := bridge.NextPollsRaw() - before; got != 3 {
		t.Fatalf("%d polls matched by their bytes, want 3", got)
	}
}
