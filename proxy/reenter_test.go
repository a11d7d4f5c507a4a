package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/reenter"
)

// parkRoute answers /park/... as the bridge answers a parked long-poll:
// it hijacks the connection, returns, answers later from another goroutine
// (when release is closed) and gives the connection back to the server.
// Anything else answers "plain" through net/http.
type parkRoute struct {
	release chan struct{}
	wg      sync.WaitGroup
}

func (p *parkRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/park/hold") {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "plain")
		return
	}
	back := reenter.From(r.Context())
	if back == nil {
		http.Error(w, "no way back", http.StatusInternalServerError)
		return
	}
	reenter.MarkStatus(w, http.StatusOK)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		<-p.release
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nparked")
		back(conn)
	}()
}

func (p *parkRoute) Close(context.Context) error { return nil }

func startParkServer(t *testing.T, extra string) (*testServer, *parkRoute, *observer.ObservedLogs) {
	t.Helper()
	pr := &parkRoute{release: make(chan struct{})}
	core, logs := observer.New(zapcore.InfoLevel)
	s := startServer(t, baseYAML+extra+"routes:\n"+route("/park", "ws://127.0.0.1:1/park"), Deps{
		Bridge: func(config.Route) (RouteHandler, error) { return pr, nil },
		Logger: zap.New(core),
	})
	t.Cleanup(pr.wg.Wait)
	return s, pr, logs
}

func exchange(t *testing.T, c net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("response to %q: %v", req, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// A hijacked connection given back is served again by the same server: the
// next request on the same TCP connection is answered, the connection
// still counts once against the limits (one slot, released at close), the
// smuggling guard watches it again, and the parked request is logged with
// the status its handler marked.
func TestReenteredConnectionServesNextRequest(t *testing.T) {
	s, pr, logs := startParkServer(t, "limits:\n  max_connections: 1\n")
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(testTimeout))
	br := bufio.NewReader(c)

	if _, err := io.WriteString(c, "GET /park/hold HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	close(pr.release)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "parked" {
		t.Fatalf("parked answer %q", body)
	}
	// Same connection, served by net/http again.
	if resp, body := exchange(t, c, br, "GET /park/x HTTP/1.1\r\nHost: gw\r\n\r\n"); resp.StatusCode != 200 || body != "plain" {
		t.Fatalf("next request: %d %q", resp.StatusCode, body)
	}
	// And parked again, and given back again.
	if resp, body := exchange(t, c, br, "GET /park/hold HTTP/1.1\r\nHost: gw\r\n\r\n"); resp.StatusCode != 200 || body != "parked" {
		t.Fatalf("second park: %d %q", resp.StatusCode, body)
	}
	if got := testutil.ToFloat64(s.metrics.openConns); got != 1 {
		t.Fatalf("open connections %v, want 1", got)
	}
	// The guard is on again: an ambiguous request is refused.
	resp, body2 := exchange(t, c, br, "POST /park/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body2, "ambiguous_length") {
		t.Fatalf("smuggling attempt after re-entry: %d %s", resp.StatusCode, body2)
	}
	c.Close()
	waitUntil(t, func() bool { return testutil.ToFloat64(s.metrics.openConns) == 0 })

	// The slot is free again: a new client gets in (max_connections: 1).
	c2, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetDeadline(time.Now().Add(testTimeout))
	if resp, body := exchange(t, c2, bufio.NewReader(c2), "GET /park/x HTTP/1.1\r\nHost: gw\r\n\r\n"); resp.StatusCode != 200 || body != "plain" {
		t.Fatalf("new client: %d %q", resp.StatusCode, body)
	}

	// The answer may reach the client before its handler's deferred log.
	parked := func() []observer.LoggedEntry {
		return logs.FilterMessage("request").FilterField(zap.String("path", "/park/hold")).All()
	}
	waitUntil(t, func() bool { return len(parked()) >= 2 })
	for _, e := range parked() {
		if st := e.ContextMap()["status"]; st != int64(200) {
			t.Fatalf("parked request logged with status %v", st)
		}
	}
	if n := len(parked()); n != 2 {
		t.Fatalf("parked requests logged %d times, want 2", n)
	}
}

// A connection given back after the server stopped is closed, and
// Shutdown still ends.
func TestReenterAfterShutdownCloses(t *testing.T) {
	s, pr, _ := startParkServer(t, "")
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(testTimeout))
	if _, err := io.WriteString(c, "GET /park/hold HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return testutil.ToFloat64(s.metrics.openConns) == 1 })
	// Wait until the handler has hijacked and returned (the request is
	// logged as done), then shut down.
	waitUntil(t, func() bool {
		return testutil.ToFloat64(s.series("/park").requestsCounter(200)) == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	close(pr.release)
	pr.wg.Wait()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err == nil {
		// Shutdown's last step closed it before or after the answer: either
		// way nothing follows.
		_, _ = io.ReadAll(resp.Body)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("connection still serving after shutdown")
	}
	if got := testutil.ToFloat64(s.metrics.openConns); got != 0 {
		t.Fatalf("open connections %v after shutdown", got)
	}
}

// Listener: Push after Close closes the connection.
func TestReenterListenerClosed(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	ln := reenter.NewListener(&net.TCPAddr{})
	_ = ln.Close()
	if ln.Push(a) {
		t.Fatal("push accepted after close")
	}
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Fatal("pushed connection not closed")
	}
	if _, err := ln.Accept(); err == nil {
		t.Fatal("accept after close")
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	end := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(end) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
