package bridge_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// On a route that serves long-poll but not short polling, a long-poll that
// asks for an answer at once (wait=0: the browser library's resume, whose
// first poll must not wait) is served; it was refused as the poll
// transport, so the library's long-poll never came back after a drop. With
// neither transport, wait=0 is still refused.
func TestWaitZeroOnALongPollOnlyRoute(t *testing.T) {
	up := newUpstream(t)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	route := sessionRoute(up)
	route.Transports = []string{config.TransportSSE, config.TransportLongPoll}
	// A wait=0 poll held anyway would outlast the test's deadline.
	route.PollTimeout = config.Duration(2 * deadline)
	g := newGateway(t, route, config.Limits{})
	first, resp := g.poll(t, ctx, "", nil)
	if resp.StatusCode != http.StatusOK || first.Session == "" {
		t.Fatalf("open: %d %+v", resp.StatusCode, first)
	}
	a, resp := g.poll(t, ctx, "?wait=0&session="+first.Session+"&cursor="+first.Cursor, nil)
	if resp.StatusCode != http.StatusOK || a.Session != first.Session || len(a.Messages) != 0 {
		t.Fatalf("resume with wait=0: %d %+v", resp.StatusCode, a)
	}

	route.Path = "/sse"
	route.Transports = []string{config.TransportSSE}
	sseOnly := newGateway(t, route, config.Limits{})
	expectError(t, sseOnly.get(t, ctx, "/sse/poll?wait=0", nil), http.StatusNotFound, "transport_not_enabled")
}
