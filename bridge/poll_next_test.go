//go:build linux

package bridge_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// waitingPoller is a keep-alive connection whose parked poll was just
// answered: the gateway waits for its next request.
func (g *parkGateway) waitingPoller(t *testing.T, up *testUpstream, text string) (*rawPoller, string) {
	t.Helper()
	p := g.dial(t)
	p.send(t, "", "")
	first := p.answer(t)
	waitFor(t, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	p.send(t, "?cursor="+first.Cursor, "")
	waitFor(t, "poll parked", func() bool { return bridge.ParkedPolls(g.rh) == 1 })
	up.publish(text)
	a := p.answer(t)
	if len(a.Messages) != 1 || a.Messages[0].Data != text {
		t.Fatalf("answer %+v, want %q", a, text)
	}
	return p, a.Cursor
}

// TestNextPollsReadOnTheParkedConnection: a client polling on one
// keep-alive connection gets every message once and in order, and every
// poll after the first is read by the bridge itself and parks again
// (net/http is not re-entered); a next poll that differs in more than its
// cursor (another header) goes through net/http and is answered all the
// same.
func TestNextPollsReadOnTheParkedConnection(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p, cursor := g.waitingPoller(t, up, "m-first")
	before := bridge.NextPollsParked()
	const cycles = 30
	for i := range cycles {
		extra := ""
		if i == cycles-1 {
			extra = "X-Other: 1\r\n"
		}
		p.send(t, "?cursor="+cursor, extra)
		waitFor(t, "poll parked", func() bool { return bridge.ParkedPolls(g.rh) == 1 })
		text := fmt.Sprintf("m-%d", i)
		up.publish(text)
		a := p.answer(t)
		if len(a.Messages) != 1 || a.Messages[0].Data != text {
			t.Fatalf("cycle %d: answer %+v, want only %q", i, a, text)
		}
		cursor = a.Cursor
	}
	if got := bridge.NextPollsParked() - before; got != cycles-1 {
		t.Fatalf("%d polls read by the bridge, want %d", got, cycles-1)
	}
}

// exchangeRaw sends req on c and reads one response.
func exchangeRaw(t *testing.T, c net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(req, " ")
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("response to %.60q: %v", req, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// TestNextPollUnusualRequestsAnsweredAsOnAFreshConnection: whatever a
// client sends after a parked poll's answer that is not a plain next poll
// gets exactly the answer it gets on a fresh connection (status, headers
// but Date, body, whether the connection ends): a body, chunked framing,
// a smuggling attempt, headers over max_header_bytes, another path,
// HTTP/1.0, Connection: close, HEAD, garbage.
func TestNextPollUnusualRequestsAnsweredAsOnAFreshConnection(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	g.unusualNextRequests(t, up, g.waitingPoller)
}

// unusualNextRequests sends each unusual request on a connection that
// waiting gives, and the same on a fresh connection: the answers must be
// the same.
func (g *parkGateway) unusualNextRequests(t *testing.T, up *testUpstream, waiting func(*testing.T, *testUpstream, string) (*rawPoller, string)) {
	big := strings.Repeat("b", 70<<10)
	cases := map[string]string{
		"body":       "GET /chat/poll HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello",
		"chunked":    "GET /chat/poll HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"smuggling":  "POST /chat/send HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"oversize":   "GET /chat/poll HTTP/1.1\r\nHost: gw\r\nX-Big: " + big + "\r\n\r\n",
		"other path": "GET /nope HTTP/1.1\r\nHost: gw\r\n\r\n",
		"http/1.0":   "GET /chat/poll HTTP/1.0\r\nHost: gw\r\n\r\n",
		"close":      "GET /chat/poll HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
		"head":       "HEAD /chat/poll HTTP/1.1\r\nHost: gw\r\n\r\n",
		"two hosts":  "GET /chat/poll HTTP/1.1\r\nHost: gw\r\nHost: gx\r\n\r\n",
		"garbage":    "BOGUS\r\n\r\n",
	}
	i := 0
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			waiting, _ := waiting(t, up, fmt.Sprintf("w-%d", i))
			i++
			resp, body := exchangeRaw(t, waiting.conn, waiting.br, req)
			fresh := g.dial(t)
			want, wantBody := exchangeRaw(t, fresh.conn, fresh.br, req)
			if resp.StatusCode != want.StatusCode || body != wantBody || headerSet(resp.Header) != headerSet(want.Header) || resp.Close != want.Close {
				t.Fatalf("after a parked poll: %d close=%v\n%s\n%s\non a fresh connection: %d close=%v\n%s\n%s",
					resp.StatusCode, resp.Close, headerSet(resp.Header), body, want.StatusCode, want.Close, headerSet(want.Header), wantBody)
			}
		})
	}
}

// TestNextPollsPipelined: two polls sent at once after an answer go to
// net/http as before and are answered in order (pipelineTwoPolls).
func TestNextPollsPipelined(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p, cursor := g.waitingPoller(t, up, "first")
	g.pipelineTwoPolls(t, up, p, cursor)
}

// openConnections is the proxy's open-connections gauge.
func (g *parkGateway) openConnections(t *testing.T) float64 {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "bridgeway_proxy_open_connections" {
			return mf.Metric[0].GetGauge().GetValue()
		}
	}
	return -1
}

// TestNextPollClientLeavesWhileWaiting: a client that closes its
// connection after an answer, before its next poll, is let go: its
// connection slot is free again (max_connections: 1 lets the next client
// in), and a client that sends nothing is closed at read_header_timeout,
// as net/http closes a silent connection; half a request gets what it gets
// on a fresh connection.
func TestNextPollClientLeavesWhileWaiting(t *testing.T) {
	up := newUpstream(t)
	g := startOneConnGateway(t, up)
	g.leaveThenSilence(t, up, g.waitingPoller)

	// Half a request: what a fresh connection gets, then the end.
	p3, _ := g.waitingPoller(t, up, "three")
	if _, err := io.WriteString(p3.conn, "GET /chat/po"); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(p3.br)
	waitFor(t, "connection released", func() bool { return g.openConnections(t) == 0 })
	fresh := g.dial(t)
	if _, err := io.WriteString(fresh.conn, "GET /chat/po"); err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(fresh.br)
	if string(got) != string(want) {
		t.Fatalf("half a request after a parked poll: %q, on a fresh connection: %q", got, want)
	}
}

// startOneConnGateway is a gateway for one connection at a time whose
// silent connections end at 300 ms.
func startOneConnGateway(t *testing.T, up *testUpstream) *parkGateway {
	return startWholeGateway(t, "limits: {max_connections: 1, read_header_timeout: 300ms}\n"+
		"routes:\n  - path: /chat\n    mode: broadcast\n    snapshot: false\n    poll_timeout: 25s\n"+
		"    upstream: {url: \""+up.url("/feed")+"\"}\n")
}

// leaveThenSilence: a waiting connection whose client leaves is
// released; one whose client sends nothing is closed at
// read_header_timeout, then released.
func (g *parkGateway) leaveThenSilence(t *testing.T, up *testUpstream, waiting func(*testing.T, *testUpstream, string) (*rawPoller, string)) {
	t.Helper()
	p, _ := waiting(t, up, "one")
	p.conn.Close()
	waitFor(t, "connection released", func() bool { return g.openConnections(t) == 0 })

	p2, _ := waiting(t, up, "two")
	p2.expectEOF(t) // nothing sent: closed at read_header_timeout
	waitFor(t, "connection released", func() bool { return g.openConnections(t) == 0 })
}

// TestNextPollWaitersAtShutdown: connections waiting for their next poll
// end at shutdown, and shutdown ends (goleak checks the waiters left).
func TestNextPollWaitersAtShutdown(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p, _ := g.waitingPoller(t, up, "one")
	g.shutdownEndsIt(t, p)
}

// shutdownEndsIt shuts the gateway down: p's connection ends.
func (g *parkGateway) shutdownEndsIt(t *testing.T, p *rawPoller) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := g.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	p.expectEOF(t)
}

// TestNextPollAfterRouteRemoved: a reload that removes the route hands a
// waiting connection back to the server, which serves the next request on
// the new routes.
func TestNextPollAfterRouteRemoved(t *testing.T) {
	up := newUpstream(t)
	g := startParkGateway(t, up, "    poll_timeout: 25s\n")
	p, cursor := g.waitingPoller(t, up, "one")
	g.removeRouteThenPoll(t, p, cursor)
}

// removeRouteThenPoll reloads routes without /chat, then sends p's next
// poll, which the new routes answer 404.
func (g *parkGateway) removeRouteThenPoll(t *testing.T, p *rawPoller, cursor string) {
	t.Helper()
	cfg, err := config.Parse("next2.yaml", []byte("listen: 127.0.0.1:0\nadmin: {listen: \"\"}\nlog: {access: false}\nroutes:\n  - path: /other\n    upstream: {url: \"http://127.0.0.1:1\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.srv.Reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	resp, body := exchangeRaw(t, p.conn, p.br, "GET /chat/poll?cursor="+cursor+" HTTP/1.1\r\nHost: gw\r\nAccept: application/json\r\n\r\n")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "route_not_found") {
		t.Fatalf("next poll after the route went: %d %s", resp.StatusCode, body)
	}
}

// TestNextPollsAccessLog: a poll read by the bridge is logged and counted
// as the server logs one it read: one access-log line per request, with
// the fields of the first poll's line (route, kind, method, path, redacted
// query, proto, status 200, bytes 0 as of the park, peer, user agent).
func TestNextPollsAccessLog(t *testing.T) {
	up := newUpstream(t)
	core, logs := observer.New(zapcore.InfoLevel)
	g := startLoggedGateway(t, "log: {access: true}\nroutes:\n  - path: /chat\n    mode: broadcast\n    snapshot: false\n    poll_timeout: 25s\n"+
		"    upstream: {url: \""+up.url("/feed")+"\"}\n", zap.New(core))
	before := bridge.NextPollsParked()
	p, cursor := g.waitingPoller(t, up, "one")
	for i := range 3 {
		p.send(t, "?cursor="+cursor, "User-Agent: poller\r\n")
		waitFor(t, "poll parked", func() bool { return bridge.ParkedPolls(g.rh) == 1 })
		up.publish(fmt.Sprintf("m-%d", i))
		cursor = p.answer(t).Cursor
	}
	if got := bridge.NextPollsParked() - before; got != 2 {
		t.Fatalf("%d polls read by the bridge, want 2 (the first with a new header went through net/http)", got)
	}
	lines := func() []observer.LoggedEntry {
		return logs.FilterMessage("request").FilterField(zap.String("path", "/chat/poll")).All()
	}
	// The first poll of the connection, the parked one, then three more.
	waitFor(t, "every poll logged", func() bool { return len(lines()) == 5 })
	want := logFields(lines()[2].ContextMap())
	for _, e := range lines()[3:] {
		if got := logFields(e.ContextMap()); got != want {
			t.Fatalf("poll read by the bridge logged\n%s\nnet/http's\n%s", got, want)
		}
	}
	if got := g.metricNoLabels(t, "bridgeway_proxy_requests_total", "route", "/chat"); got != 5 {
		t.Fatalf("%v requests counted for /chat, want 5", got)
	}
}

// logFields is an access-log line's fields but duration.
func logFields(m map[string]any) string {
	delete(m, "duration")
	return fmt.Sprint(m)
}

// metricNoLabels sums a counter's series whose label is value.
func (g *parkGateway) metricNoLabels(t *testing.T, name, label, value string) float64 {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
