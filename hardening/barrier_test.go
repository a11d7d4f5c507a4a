package hardening

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// markers numbers sentBefore's markers, so that each is unique.
var markers atomic.Int64

// sentBefore sends a marker through session's /send on route /chat and
// waits until the upstream has it, then returns what the upstream received
// before it and forgets everything. A session's sends reach its upstream in
// order, so whatever an earlier request let through is in the list: the
// marker is the barrier that makes "nothing reached the upstream" checkable.
func sentBefore(t *testing.T, g *gateway, app *wsApp, session string) []string {
	t.Helper()
	marker := "barrier-" + strconv.FormatInt(markers.Add(1), 10)
	if a := do(t, "POST", g.URL+"/chat/send?session="+session, nil, marker); a.status != 204 {
		t.Fatalf("marker send: %d %s", a.status, a.body)
	}
	var got []string
	eventually(t, "the marker at the upstream", func() bool {
		got = app.messages()
		return slices.Contains(got, marker)
	})
	app.forget()
	return got[:slices.Index(got, marker)]
}

// trackBusy counts srv's connections that are accepted or inside a request
// (not idle, closed or hijacked); set before srv starts. Zero after a
// client went away means every request the server began has ended.
func trackBusy(srv *httptest.Server) *atomic.Int64 {
	var busy atomic.Int64
	var mu sync.Mutex
	was := map[net.Conn]bool{} // busy at its last state change
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		now := s == http.StateNew || s == http.StateActive
		if now && !was[c] {
			busy.Add(1)
		} else if !now && was[c] {
			busy.Add(-1)
		}
		was[c] = now
		if s == http.StateClosed || s == http.StateHijacked {
			delete(was, c)
		}
	}
	return &busy
}
