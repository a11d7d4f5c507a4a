package bridge_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/config"
)

// versionedDoc is a JSON upstream that can only be polled: its content is
// {"v":N}; it counts requests and the most it ever had in flight, and
// answers 304 to a matching If-None-Match.
type versionedDoc struct {
	mu                 sync.Mutex
	version            int
	served             int // highest version sent in a 200 or confirmed by a 304
	requests           int
	inFlight, maxFlght int
	first, last        time.Time
}

func (d *versionedDoc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.requests++
	d.inFlight++
	d.maxFlght = max(d.maxFlght, d.inFlight)
	now := time.Now()
	if d.first.IsZero() {
		d.first = now
	}
	d.last = now
	v := d.version
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.inFlight--
		d.served = max(d.served, v)
		d.mu.Unlock()
	}()
	body := fmt.Sprintf(`{"v":%d}`, v)
	sum := sha256.Sum256([]byte(body))
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(body))
}

func (d *versionedDoc) set(v int) {
	d.mu.Lock()
	d.version = v
	d.mu.Unlock()
}

func (d *versionedDoc) servedAtLeast(v int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.served >= v
}

// TestPollToPush is the poll-to-push promise: 1,000 subscribers (SSE,
// NDJSON stream and long-poll) on a poll route cost one upstream request per
// interval, never two in flight, and every subscriber gets every change
// once, in order.
func TestPollToPush(t *testing.T) {
	doc := &versionedDoc{}
	up := httptest.NewServer(doc)
	t.Cleanup(up.Close)
	const interval = 25 * time.Millisecond
	route := config.Route{
		Path: "/clock",
		Upstream: config.Upstream{URL: up.URL + "/doc.json", Kind: config.KindPoll,
			Interval: config.Duration(interval), Timeout: config.Duration(5 * time.Second),
			Reconnect: config.Reconnect{Min: config.Duration(interval), Max: config.Duration(time.Second)}},
		Mode:        config.ModeBroadcast,
		Buffer:      64,
		Heartbeat:   config.Duration(15 * time.Second),
		PollTimeout: config.Duration(25 * time.Second),
		IdleClose:   durationPtr(30 * time.Second),
	}
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()

	const sse, streams, pollers = 600, 200, 200
	const changes = 20
	want := fmt.Sprintf(`{"v":%d}`, changes)

	var ready, done sync.WaitGroup
	results := make(chan []string, sse+streams+pollers)
	subscriber := func(read func(ready func()) []string) {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			var once sync.Once
			results <- read(func() { once.Do(ready.Done) })
			once.Do(ready.Done)
		}()
	}
	for range sse {
		subscriber(func(attached func()) []string {
			s := g.openSSE(t, ctx, "/clock/sse", nil)
			defer s.resp.Body.Close()
			s.start(t)
			attached()
			var got []string
			for len(got) == 0 || got[len(got)-1] != want {
				ev, err := s.p.Next()
				if err != nil {
					return append(got, "ERR "+err.Error())
				}
				if ev.Type == "heartbeat" {
					continue // every heartbeat interval (15 s): a slow run sees one
				}
				got = append(got, ev.Data)
			}
			return got
		})
	}
	for range streams {
		subscriber(func(attached func()) []string {
			resp := g.get(t, ctx, "/clock/stream", nil)
			defer resp.Body.Close()
			sc := newScanner(resp)
			attached()
			var got []string
			for len(got) == 0 || got[len(got)-1] != want {
				if !sc.Scan() {
					return append(got, "ERR stream ended")
				}
				if l := strings.TrimSpace(sc.Text()); l != "" && !isStartLine(l) {
					var m streamLine
					_ = json.Unmarshal([]byte(l), &m)
					got = append(got, m.Data)
				}
			}
			return got
		})
	}
	for range pollers {
		subscriber(func(attached func()) []string {
			var got []string
			cursor := ""
			for len(got) == 0 || got[len(got)-1] != want {
				q := ""
				if cursor != "" {
					q = "?cursor=" + cursor
				}
				resp := g.get(t, ctx, "/clock/poll"+q, nil)
				var a pollAnswer
				err := jsonDecode(resp, &a)
				resp.Body.Close()
				if err != nil || a.Gap != nil || a.Closed != nil {
					return append(got, fmt.Sprintf("ERR %v gap=%v closed=%v", err, a.Gap, a.Closed))
				}
				attached()
				for _, m := range a.Messages {
					got = append(got, m.Data)
				}
				cursor = a.Cursor
			}
			return got
		})
	}
	ready.Wait()
	waitFor(t, "every push subscriber attached", func() bool {
		return metricValue(t, g, "bridgeway_bridge_clients_connected", "sse")+
			metricValue(t, g, "bridgeway_bridge_clients_connected", "stream") == sse+streams
	})

	for v := 1; v <= changes; v++ {
		doc.set(v)
		waitFor(t, fmt.Sprintf("the poller to see version %d", v), func() bool { return doc.servedAtLeast(v) })
	}
	done.Wait()
	close(results)

	for got := range results {
		// A subscriber may start with the snapshot {"v":0}; from there every
		// version follows once, in order.
		start := 0
		if len(got) > 0 && got[0] != `{"v":0}` {
			start = 1
		}
		if len(got) != changes+1-start {
			t.Fatalf("subscriber got %d messages, want %d: %v", len(got), changes+1-start, got)
		}
		for i, data := range got {
			if w := fmt.Sprintf(`{"v":%d}`, start+i); data != w {
				t.Fatalf("subscriber message %d is %s, want %s: %v", i, data, w, got)
			}
		}
	}

	doc.mu.Lock()
	requests, maxInFlight, span := doc.requests, doc.maxFlght, doc.last.Sub(doc.first)
	doc.mu.Unlock()
	// Requests follow the interval, not the number of subscribers: at most
	// one per interval over the span they covered (a loaded machine only
	// makes them fewer), plus the first one.
	if limit := int(span/interval) + 2; requests > limit {
		t.Fatalf("%d upstream requests over %v for %d subscribers, want at most %d (one per %v)",
			requests, span, sse+streams+pollers, limit, interval)
	}
	if maxInFlight != 1 {
		t.Fatalf("%d upstream requests in flight at once, want 1", maxInFlight)
	}
	t.Logf("%d subscribers, %d changes: %d upstream requests over %v", sse+streams+pollers, changes, requests, span)
}
