package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPollAnswersFitBehindSquid: an old browser (no WebSocket, no
// EventSource) behind squid with reply_body_max_size 256 KB comes to a
// backlog of 1,000 messages of about 400 bytes: one answer with all of
// them would be refused (403) for ever. Poll answers are small by default
// (poll_max_bytes, 64 KiB), and a page that asks for large ones
// (pollBytes) gets refused, halves its request and goes on: every message
// arrives exactly once, in order, over long-poll and JSONP.
func TestPollAnswersFitBehindSquid(t *testing.T) {
	gw := newGateway(t)
	sq := startSquid(t, "reply_body_max_size 256 KB")
	t.Cleanup(func() { t.Logf("squid access log:\n%s", sq.accessLog()) })
	browser := proxiedBrowser(t, sq.addr)
	for _, tc := range []struct{ name, opts string }{
		{"longpoll", `{timeout: 20000}`},
		{"longpoll asking 1 MiB", `{timeout: 20000, pollBytes: 1048576}`},
		{"jsonp asking 1 MiB", `{transports: ["jsonp"], timeout: 20000, pollBytes: 1048576}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTabIn(t, browser)
			run(t, tab, chromedp.Navigate(gw.URL+"/test.html?bare=1"))
			logStart := len(sq.accessLog()) // this subtest's lines follow
			session := bulkBacklog(t, gw)
			// The page takes the session over (a query string in the URL
			// is kept on every request) and starts at its oldest message.
			eval[bool](t, tab, `bwOpen("/bulk?session=`+session+`", `+tc.opts+`)`)
			waitFor(t, tab, `datas("hi:").length === 1`, `summary()`)
			got := eval[[]string](t, tab, `datas("b:").map(function (d) { return d.split(":").slice(0, 2).join(":"); })`)
			assertSequence(t, got, "b:", bulkBurst)
			assertDistinctIDs(t, tab, bulkBurst+1)
			assertNoGapsOrCloses(t, tab)
			log := sq.accessLog()[logStart:]
			refused := strings.Count(log, "TCP_DENIED_REPLY/403")
			if strings.Contains(tc.name, "asking") {
				// 1 MiB and 512 KiB are refused; the page halves its
				// request each time and 256 KiB passes.
				for _, want := range []string{"TCP_DENIED_REPLY/403 .*max_bytes=1048576", "TCP_DENIED_REPLY/403 .*max_bytes=524288", "TCP_MISS/200 .*max_bytes=262144"} {
					if !regexp.MustCompile(want).MatchString(log) {
						t.Errorf("squid's log has no line matching %q", want)
					}
				}
			}
			t.Logf("%s: squid refused %d answers", tc.name, refused)
		})
	}
}

// bulkBacklog opens a session on /bulk (directly, not through squid) and
// waits until the app's whole burst and greeting are in its log.
func bulkBacklog(t *testing.T, gw *gateway) string {
	t.Helper()
	var open struct{ Session string }
	if !getJSON(gw.URL+"/bulk/poll?wait=0", &open) {
		t.Fatal("opening a session on /bulk failed")
	}
	waitUntil(t, func() bool {
		// A cursor ahead of the log is refused (400) until it is there.
		var a struct{ Messages []struct{ Data string } }
		return getJSON(gw.URL+"/bulk/poll?wait=0&cursor="+open.Session+"-"+strconv.Itoa(bulkBurst), &a) &&
			len(a.Messages) == 1 && a.Messages[0].Data == "hi:1"
	}, "the backlog")
	return open.Session
}

// getJSON decodes the answer of a GET; false unless it is a 200.
func getJSON(url string, v any) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(v) == nil
}
