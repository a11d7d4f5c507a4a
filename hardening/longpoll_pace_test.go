package hardening

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestLongPollUpstreamAnsweringAtOnceIsPaced: a kind longpoll upstream
// that answers every request at once with a body is asked again no sooner
// than reconnect.min (200ms here) after the previous request started, in
// broadcast and in session mode (was: about 6,600 requests a second, and
// in session mode a full buffer's worth before flow control paused it).
// The upstream counts its requests over one second after the first one:
// at most 5 are possible, the bound is 30 (the old loop made thousands).
func TestLongPollUpstreamAnsweringAtOnceIsPaced(t *testing.T) {
	for _, mode := range []string{"broadcast", "session"} {
		t.Run(mode, func(t *testing.T) {
			var hits atomic.Int64
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				_, _ = w.Write([]byte("at once"))
			}))
			t.Cleanup(up.Close)
			g := startGateway(t, "routes:\n  - path: /lp\n    mode: "+mode+"\n"+
				"    upstream: {url: \""+up.URL+"/feed\", kind: longpoll, reconnect: {min: 200ms}}\n")
			if a := get(t, g.URL+"/lp/poll?wait=0", nil); a.status != 200 {
				t.Fatalf("open: %d %s", a.status, a.body)
			}
			eventually(t, "the first upstream request", func() bool { return hits.Load() > 0 })
			from := hits.Load()
			time.Sleep(time.Second) // the counting window
			n := hits.Load() - from
			t.Logf("%d upstream requests in the window", n)
			if n > 30 {
				t.Errorf("%d upstream requests in one second with reconnect.min 200ms", n)
			}
		})
	}
}
