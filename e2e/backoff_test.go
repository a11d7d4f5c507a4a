package e2e

import (
	"bufio"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The library's backoff between resumes, seen from outside: when the next
// request reaches the proxy, counted in the gateway's own heartbeats (a
// clock that never asserts a duration).

// sseReader is an SSE stream the test reads itself, straight from the
// gateway (no proxy cuts it): its heartbeat events are a clock in the
// route's heartbeats, its data lines what the topic or session delivered.
type sseReader struct {
	mu    sync.Mutex
	beats int
	data  []string
}

// readSSE opens url (an SSE endpoint) until the test ends.
func readSSE(t *testing.T, url string) *sseReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	s := &sseReader{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			if line == "event: heartbeat" {
				s.beats++
			} else if d, ok := strings.CutPrefix(line, "data: "); ok && d != "" {
				s.data = append(s.data, d)
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return s
}

// heartbeats counts the heartbeat events read so far.
func (s *sseReader) heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beats
}

// saw reports whether a data line equal to d was read.
func (s *sseReader) saw(d string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.data, d)
}

// waitBeats waits for n more heartbeats of the clock.
func (s *sseReader) waitBeats(t *testing.T, n int) {
	t.Helper()
	until := s.heartbeats() + n
	waitUntil(t, func() bool { return s.heartbeats() >= until }, strconv.Itoa(n)+" heartbeats of the clock")
}

// TestQuietResumesDoNotBackOff: a quiet session (no messages; /beat sends
// a heartbeat every second and holds polls for a second) behind a proxy
// that cuts every connection a few seconds after it opened (long-poll: it
// answers a held poll 504, as HAProxy does; a cut poll the browser would
// send again by itself) resumes at once after each cut, on every transport: each resume proved the path before
// the cut (a heartbeat after the open, a held poll answered at its
// timeout, a WebSocket open longer than the attempt's timeout), and a
// proven path resets the backoff. Only a message reset it, so the waits
// grew with every cut (0, ~1, ~2, ~4, ~8, ~16 s) although every resume
// worked.
func TestQuietResumesDoNotBackOff(t *testing.T) {
	for _, transport := range []string{"sse", "stream", "longpoll", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			gw, proxy, tab := pageBehindProxy(t)
			clock := readSSE(t, gw.URL+"/beat/sse")
			eval[bool](t, tab, `bwOpen("/beat", {transports: ["`+transport+`"], timeout: 2000})`)
			for i := 1; i <= 6; i++ {
				waitFor(t, tab, `S.opens.length === `+strconv.Itoa(i), `summary()`)
				// Three heartbeats: over two seconds for the attempt to
				// prove its path, on its own heartbeat (1 s), its held
				// poll (1 s) or its WebSocket's age (the 2 s timeout).
				clock.waitBeats(t, 3)
				if transport == "longpoll" {
					proxy.failOnce("/poll", http.StatusGatewayTimeout)
				} else {
					proxy.cut()
				}
				cut := clock.heartbeats()
				waitFor(t, tab, `S.opens.length === `+strconv.Itoa(i+1), `summary()`)
				if late := clock.heartbeats() - cut; late > 3 {
					t.Fatalf("resume %d came %d heartbeats (1 s each) after its cut: backed off although the attempt before it proved the path", i, late)
				}
			}
			if got := eval[string](t, tab, `S.errors.length + " " + S.opens.every(function (o) { return o.session === S.opens[0].session; })`); got != "0 true" {
				t.Errorf("errors, one session: %s; want no failed round and every resume on the first session", got)
			}
		})
	}
}

// TestCutAtOnceStillBacksOff: a proxy that lets each stream start (its
// headers and first event reach the page) and cuts it at once must not
// make the library retry in a tight loop: the first event of an attempt
// does not prove the path, so the backoff grows as before.
func TestCutAtOnceStillBacksOff(t *testing.T) {
	for _, transport := range []string{"sse", "stream"} {
		t.Run(transport, func(t *testing.T) {
			gw, proxy, tab := pageBehindProxy(t)
			clock := readSSE(t, gw.URL+"/beat/sse")
			proxy.cutAtOnce("/" + transport)
			eval[bool](t, tab, `bwOpen("/beat", {transports: ["`+transport+`"], timeout: 2000})`)
			waitFor(t, tab, `S.opens.length >= 1`, `summary()`)
			clock.waitBeats(t, 8)
			n := proxy.requestsTo("/beat/" + transport)
			// With the backoff (0, ~1, ~2, ~4 s ...) about 6 in 8 s; a tight
			// loop makes hundreds.
			if n > 12 {
				t.Fatalf("%d requests in 8 heartbeats (1 s each): the library retried a stream cut at once without backing off", n)
			}
			t.Logf("%d requests in 8 heartbeats", n)
		})
	}
}
