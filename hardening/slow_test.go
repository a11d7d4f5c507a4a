package hardening

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// trickle writes prefix, then one byte of filler every 50ms until the
// connection fails or stop is closed. It reports whether the gateway cut
// it. Its goroutine ends with the connection or stop.
func trickle(c net.Conn, prefix string, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := io.WriteString(c, prefix); err != nil {
			return
		}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	return &wg
}

// TestSlowlorisHeadersCut: a client sending its request head a byte at a
// time is disconnected at read_header_timeout, while other clients are
// served. The trickle never stops on its own, so only the gateway can end
// the connection (no timing is asserted).
func TestSlowlorisHeadersCut(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "limits: {read_header_timeout: 500ms}\n"+bridgedYAML(app))
	stop := make(chan struct{})
	var trickles []*sync.WaitGroup
	var conns []net.Conn
	for range 5 {
		c := g.rawConn(t)
		conns = append(conns, c)
		trickles = append(trickles, trickle(c, "GET /chat/poll HTTP/1.1\r\nHost: x\r\nX-Slow: ", stop))
	}
	if a := get(t, g.URL+"/feed/poll", nil); a.status != 200 {
		t.Errorf("a normal client during the attack: %d", a.status)
	}
	for _, c := range conns {
		got := readAllUntilClosed(t, c)
		if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 408") && !strings.HasPrefix(string(got), "HTTP/1.1 400") {
			t.Errorf("answer to a slowloris: %q", got)
		}
	}
	close(stop)
	for _, wg := range trickles {
		wg.Wait()
	}
}

// TestSlowSendBodyCut: a POST /send whose body trickles in a byte at a time
// is cut at read_header_timeout (408 body_timeout, then the connection is
// closed) instead of holding a connection forever; nothing is sent.
func TestSlowSendBodyCut(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "limits: {read_header_timeout: 500ms}\n"+bridgedYAML(app))
	p := decodePoll(t, get(t, g.URL+"/chat/poll", nil))
	stop := make(chan struct{})
	c := g.rawConn(t)
	wg := trickle(c, "POST /chat/send?session="+p.Session+" HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n", stop)
	got := readAllUntilClosed(t, c)
	close(stop)
	wg.Wait()
	if !strings.HasPrefix(string(got), "HTTP/1.1 408") || !strings.Contains(string(got), `"error":"body_timeout"`) {
		t.Errorf("answer to a slow body: %q, want 408 body_timeout", got)
	}
	if got := sentBefore(t, g, app, p.Session); len(got) != 0 {
		t.Errorf("a partial body reached the upstream: %q", got)
	}
}

// A pass-through request body that stops arriving is cut after
// body_timeout of silence (408 body_timeout, connection closed),
// and the upstream never gets a whole body. (The wait is between reads:
// proxy/passthrough's TestSteadyBodyAndLongResponseNotCut shows a steady
// trickle going through.)
func TestStalledPassthroughBodyCut(t *testing.T) {
	var whole atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err == nil {
			whole.Add(1)
		}
	}))
	busy := trackBusy(up)
	up.Start()
	defer up.Close()
	g := startGateway(t, "limits: {body_timeout: 500ms}\nroutes:\n"+
		"  - path: /api\n    upstream: {url: \""+up.URL+"\", kind: http}\n")
	c := g.rawConn(t)
	if _, err := io.WriteString(c, "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b"); err != nil {
		t.Fatal(err)
	}
	got := readAllUntilClosed(t, c)
	if !strings.HasPrefix(string(got), "HTTP/1.1 408") || !strings.Contains(string(got), `"error":"body_timeout"`) {
		t.Errorf("answer to a stalled body: %q, want 408 body_timeout", got)
	}
	// Barrier: the gateway's request to the upstream (if it made one) has
	// ended, so its handler has read all it will ever read.
	eventually(t, "the upstream's requests to end", func() bool { return busy.Load() == 0 })
	if n := whole.Load(); n != 0 {
		t.Errorf("the upstream read %d whole bodies", n)
	}
}
