package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestHTTP2ManyConnections: over HTTPS the browser speaks HTTP/2 and puts
// every request on one connection, so eight held connections (SSE, NDJSON
// streams and long-polls) on one page all flow. Over HTTP/1.1 the browser
// would open only six per host and starve the rest (see docs/client.md).
func TestHTTP2ManyConnections(t *testing.T) {
	gw := newTLSGateway(t)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(gw.URL+"/test.html"))
	if proto := eval[string](t, tab, `performance.getEntriesByType("navigation")[0].nextHopProtocol`); proto != "h2" {
		t.Fatalf("page loaded over %q, want h2", proto)
	}
	transports := []string{"sse", "sse", "sse", "stream", "stream", "stream", "longpoll", "longpoll"}
	eval[bool](t, tab, `(function (ts) {
	  window.H = ts.map(function (tr) {
	    var h = {transport: null, ticks: 0};
	    var c = bridgeway.connect("/ticker", {transports: [tr], timeout: 20000});
	    c.onopen = function (i) { h.transport = i.transport; };
	    c.onmessage = function () { h.ticks++; };
	    h.c = c;
	    return h;
	  });
	  return true;
	})(`+mustJSON(t, transports)+`)`)
	waitFor(t, tab, `H.every(function (h) { return h.ticks >= 10; })`,
		`H.map(function (h) { return [h.transport, h.ticks]; })`)
	for i, tr := range transports {
		if got := eval[string](t, tab, fmt.Sprintf(`H[%d].transport`, i)); got != tr {
			t.Errorf("connection %d runs on %q, want %q", i, got, tr)
		}
	}
	eval[bool](t, tab, `H.forEach(function (h) { h.c.close(); }), true`)
}
