package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/revproxytest"
)

// HAProxy's client, server and tunnel timeouts in
// TestExactlyOnceThroughCuttingHAProxy: far below the route's heartbeat
// and poll_timeout (10s), so HAProxy cuts every WebSocket, SSE stream and
// held poll that is quiet for this long.
const haproxyCut = 2 * time.Second

// Each page sends a wave of cutWaveSize messages every cutWaveEvery, for
// cutWaves waves: quiet spells longer than haproxyCut in between.
const (
	cutWaves     = 7
	cutWaveSize  = 10
	cutWaveEvery = 3 * time.Second
)

// TestExactlyOnceThroughCuttingHAProxy: HAProxy with the configuration of
// docs/operations.md but timeouts of 2s stands in front of the assembled
// gateway (trusted_proxies and hosts as the docs say) and serves the page,
// so the library runs same-origin through it. One page per transport
// (WebSocket, SSE, long-poll) sends waves of messages to an echo app for
// about 20s while HAProxy keeps cutting its quiet connections (its log
// says how). The app receives every send exactly once, in order, and the
// page every echo; the library resumed the same session after each cut.
func TestExactlyOnceThroughCuttingHAProxy(t *testing.T) {
	gw, app := startAssembledGateway(t, "trusted_proxies: [127.0.0.3]\nhosts: [127.0.0.2]\nroutes:\n"+
		"  - path: /chat\n    upstream: {url: \"APP/chat\"}\n    heartbeat: 10s\n    poll_timeout: 10s\n")
	site, haproxyLog := revproxytest.HAProxyLogged(t, revproxytest.Options{ListenIP: "127.0.0.2", Gateway: gw,
		BindFrom: "127.0.0.3", Timeout: haproxyCut, Pages: map[string]string{"/test.html": strings.Replace(testPage, "BARE", "", 1)}})

	prefixes := map[string]string{"websocket": "w", "sse": "s", "longpoll": "l"}
	tabs := map[string]context.Context{}
	for transport, prefix := range prefixes {
		tab := pageAt(t, "http://"+site+"/test.html")
		eval[bool](t, tab, fmt.Sprintf(`bwOpen("/chat", {transports: [%q], timeout: 20000})`, transport))
		waitFor(t, tab, `S.opens.length === 1`, `summary()`)
		// A send the queue refuses is tried again in the next wave.
		eval[bool](t, tab, fmt.Sprintf(`S.sent = 0, S.waves = 0, S.pump = setInterval(function () {
			for (var i = 0; i < %d && S.c.send(%q + (S.sent + 1)); i++) S.sent++;
			if (++S.waves === %d) clearInterval(S.pump);
		}, %d), true`, cutWaveSize, prefix, cutWaves, cutWaveEvery.Milliseconds()))
		tabs[transport] = tab
	}
	for transport, tab := range tabs {
		waitFor(t, tab, fmt.Sprintf(`S.waves === %d`, cutWaves), `summary()`)
		prefix := prefixes[transport]
		sent := eval[int](t, tab, `S.sent`)
		waitFor(t, tab, fmt.Sprintf(`datas("echo:%s").length >= %d`, prefix, sent), `summary()`)
		t.Run(transport, func(t *testing.T) {
			assertSequence(t, app.Received("/chat", prefix), prefix, sent)
			assertSequence(t, eval[[]string](t, tab, `datas("echo:`+prefix+`")`), "echo:"+prefix, sent)
			if got := eval[[]string](t, tab, `datas("hi:")`); len(got) != 1 {
				t.Errorf("the app's greeting arrived %d times, want once (one session)", len(got))
			}
			assertNoGapsOrCloses(t, tab)
			opens := eval[string](t, tab, `JSON.stringify(S.opens)`)
			if eval[int](t, tab, `S.opens.length`) < 2 || !eval[bool](t, tab, `S.opens.slice(1).every(function (o) {
				return o.resumed && o.session === S.opens[0].session; })`) {
				t.Errorf("opens %s: want HAProxy's cuts resumed on the first session", opens)
			}
			t.Logf("%d sends, %d opens, errors %s", sent, eval[int](t, tab, `S.opens.length`), eval[string](t, tab, `JSON.stringify(S.errors)`))
		})
	}
	// HAProxy's own account: it cut each transport on a timeout (a
	// termination state starting with c or s: client or server side).
	counts := terminations(haproxyLog())
	t.Logf("HAProxy: %v", counts)
	for _, path := range []string{"/chat/ws", "/chat/sse", "/chat/poll"} {
		cuts := 0
		for k, n := range counts {
			if f := strings.Fields(k); f[2] == path && strings.ContainsAny(f[1][:1], "cs") {
				cuts += n
			}
		}
		if cuts == 0 {
			t.Errorf("HAProxy's log shows no timeout on %s: the test did not cut it", path)
		}
	}
	// A 504 is the proxy's timeout, not a size problem: the long-poll tab
	// keeps asking for the same answer size ("" = the route's default).
	if sizes := pollSizes(haproxyLog()); len(sizes) != 1 {
		t.Errorf("poll max_bytes asked for across HAProxy's cuts: %v, want one size", sizes)
	}
}

// haproxyRequest is one request line of HAProxy's log (httplog format).
type haproxyRequest struct {
	status, termination, uri string
}

// haproxyRequests parses the request lines of HAProxy's log (httplog
// format); other lines are skipped.
func haproxyRequests(log string) []haproxyRequest {
	var reqs []haproxyRequest
	for _, line := range strings.Split(log, "\n") {
		f := strings.Fields(line)
		if len(f) < 14 || !strings.HasPrefix(f[1], "[") {
			continue
		}
		reqs = append(reqs, haproxyRequest{status: f[5], termination: f[9], uri: f[13]})
	}
	return reqs
}

// pollSizes counts the /chat/poll requests in HAProxy's log by the
// max_bytes they asked for.
func pollSizes(log string) map[string]int {
	sizes := map[string]int{}
	for _, r := range haproxyRequests(log) {
		query, ok := strings.CutPrefix(r.uri, "/chat/poll?")
		if !ok {
			continue
		}
		if q, err := url.ParseQuery(query); err == nil {
			sizes[q.Get("max_bytes")]++
		}
	}
	return sizes
}

// terminations counts HAProxy's log lines by status, termination state and
// request path without its query: "504 sH-- /chat/poll".
func terminations(log string) map[string]int {
	counts := map[string]int{}
	for _, r := range haproxyRequests(log) {
		path, _, _ := strings.Cut(r.uri, "?")
		counts[r.status+" "+r.termination+" "+path]++
	}
	return counts
}
