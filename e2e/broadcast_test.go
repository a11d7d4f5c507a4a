package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBroadcastTicker subscribes to a broadcast route (one shared upstream
// WebSocket that ticks) over several transports at once: each subscriber
// sees an unbroken run of ticks, once each and in order, and the app sees
// a single upstream connection for all of them.
func TestBroadcastTicker(t *testing.T) {
	gw := newGateway(t)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(gw.URL+"/test.html"))
	transports := []string{"websocket", "sse", "longpoll", "stream"}
	eval[bool](t, tab, `(function (ts) {
	  window.B = {};
	  ts.forEach(function (tr) {
	    var b = B[tr] = {ticks: [], gaps: 0, errors: 0, transport: null};
	    var c = bridgeway.connect("/ticker", {transports: [tr], timeout: 20000});
	    c.onopen = function (i) { b.transport = i.transport; };
	    c.onmessage = function (m) { b.ticks.push(m.data); };
	    c.ongap = function () { b.gaps++; };
	    c.onerror = function () { b.errors++; };
	    b.c = c;
	  });
	  return true;
	})(`+mustJSON(t, transports)+`)`)
	const want = 30
	for _, tr := range transports {
		waitFor(t, tab, fmt.Sprintf(`B[%q].ticks.length >= %d`, tr, want), `Object.keys(B).map(function (k) { return [k, B[k].transport, B[k].ticks.length]; })`)
	}
	eval[bool](t, tab, `Object.keys(B).forEach(function (k) { B[k].c.close(); }), true`)
	for _, tr := range transports {
		ticks := eval[[]string](t, tab, fmt.Sprintf(`B[%q].ticks`, tr))
		prev := 0
		for i, tick := range ticks {
			n, err := strconv.Atoi(strings.TrimPrefix(tick, "tick:"))
			if err != nil || (i > 0 && n != prev+1) {
				t.Fatalf("%s: tick %d is %q after tick:%d (want an unbroken run)", tr, i, tick, prev)
			}
			prev = n
		}
		if s := eval[string](t, tab, fmt.Sprintf(`JSON.stringify([B[%[1]q].transport, B[%[1]q].gaps, B[%[1]q].errors])`, tr)); s != fmt.Sprintf(`[%q,0,0]`, tr) {
			t.Errorf("%s: [transport, gaps, errors] = %s", tr, s)
		}
	}
	if n := gw.app.Accepted("/ticker"); n != 1 {
		t.Errorf("the app accepted %d ticker connections, want 1 shared by all subscribers", n)
	}
}
