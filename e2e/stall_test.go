package e2e

import (
	"strings"
	"testing"
	"time"
)

// bufferingNginx holds the tail of a stream: it buffers responses and
// ignores the gateway's X-Accel-Buffering: no, and gzip keeps whatever does
// not fill its next 4 KiB buffer (heartbeats included) until more comes.
// A burst gets through up to its last partial buffer; the rest is stuck.
// No Upgrade headers are passed, so WebSocket cannot work through it.
const bufferingNginx = `      proxy_buffering on;
      proxy_ignore_headers X-Accel-Buffering;
      proxy_buffer_size 4k;
      proxy_buffers 8 4k;
      gzip on;
      gzip_types text/event-stream application/x-ndjson application/json;
      gzip_buffers 4 4k;
      gzip_min_length 0;`

// TestStallBehindBufferingNginx: behind that nginx, an app sends a few
// hundred messages at once and goes quiet. SSE delivers the first batch,
// then nothing more (the tail and every heartbeat sit in nginx's buffers).
// The library notices the silence past its stall deadline although events
// did arrive, resumes from its cursor, and when that stalls too falls back
// until a transport delivers the rest: every message exactly once, in
// order.
func TestStallBehindBufferingNginx(t *testing.T) {
	gw := newGateway(t)
	ngx := startNginx(t, gw.URL, bufferingNginx)
	t.Cleanup(func() { t.Logf("nginx access log:\n%s", ngx.accessLog()) })
	tab := pageAt(t, ngx.URL+"/test.html")
	// The route's heartbeat is 1s: 6s of silence is a stall (with room for
	// a loaded machine).
	eval[bool](t, tab, `bwOpen("/busy", {transports: ["sse", "stream", "longpoll"], timeout: 15000, stall: 6000})`)
	waitFor(t, tab, `datas("hi:").length === 1`, `summary()`)
	got := eval[[]string](t, tab, `datas("b:").map(function (d) { return d.split(":").slice(0, 2).join(":"); })`)
	assertSequence(t, got, "b:", busyBurst)
	assertDistinctIDs(t, tab, busyBurst+1)
	opens := eval[string](t, tab, `JSON.stringify(S.opens.map(function (o) { return o.transport; }))`)
	if !strings.HasPrefix(opens, `["sse"`) || eval[string](t, tab, `S.c.transport`) == "sse" {
		t.Errorf("opens %s, now on %s: want SSE first (the first batch) and another transport at the end",
			opens, eval[string](t, tab, `S.c.transport`))
	}
	assertNoGapsOrCloses(t, tab)
	// SSE stalled twice: it is not tried again on this connection.
	eval[bool](t, tab, `S.c.send("after"), true`)
	waitFor(t, tab, `datas("echo:after").length === 1`, `summary()`)
	if n := strings.Count(ngx.accessLog(), "GET /busy/sse"); n != 2 {
		t.Errorf("%d SSE requests, want 2 (the first, the resume that stalled too)", n)
	}
	t.Logf("opens %s", opens)
}

// TestHeartbeatsKeepQuietStreamsUp: on a direct connection a stream that
// carries no messages for longer than the library's stall deadline stays
// up, because the gateway's heartbeats (every 1s on /busy) reach the page:
// an SSE event named heartbeat (EventSource never shows comments to
// JavaScript) and NDJSON blank lines.
func TestHeartbeatsKeepQuietStreamsUp(t *testing.T) {
	gw := newGateway(t)
	for _, transport := range []string{"sse", "stream"} {
		t.Run(transport, func(t *testing.T) {
			tab := pageAt(t, gw.URL+"/test.html")
			eval[bool](t, tab, `bwOpen("/busy", {transports: ["`+transport+`"], timeout: 20000, stall: 4000})`)
			waitFor(t, tab, `datas("hi:").length === 1`, `summary()`)
			// Quiet for two and a half stall deadlines; then a message.
			time.Sleep(10 * time.Second)
			eval[bool](t, tab, `S.c.send("later"), true`)
			waitFor(t, tab, `datas("echo:later").length === 1`, `summary()`)
			if got := eval[int](t, tab, `S.opens.length`); got != 1 {
				t.Errorf("%d opens, want 1: a quiet stream with heartbeats counted as stalled", got)
			}
		})
	}
}
