package upstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/freeport"
)

// step is one scripted answer of scriptedUpstream.
type step struct {
	status int
	body   string
	etag   string
	delay  time.Duration // a slow answer
}

// scriptedUpstream answers request i with script[i] (the last step repeats)
// and counts requests in flight at once.
type scriptedUpstream struct {
	script []step

	inFlight    atomic.Int32
	maxInFlight atomic.Int32
	mu          sync.Mutex
	requests    int
	ifNone      []string
}

func (u *scriptedUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := u.inFlight.Add(1)
	defer u.inFlight.Add(-1)
	for {
		m := u.maxInFlight.Load()
		if n <= m || u.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	u.mu.Lock()
	i := min(u.requests, len(u.script)-1)
	u.requests++
	inm := r.Header.Get("If-None-Match")
	u.ifNone = append(u.ifNone, inm)
	u.mu.Unlock()

	s := u.script[i]
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
			return
		}
	}
	if s.etag != "" {
		if inm == s.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", s.etag)
	}
	if s.status != http.StatusOK {
		http.Error(w, "scripted failure", s.status)
		return
	}
	fmt.Fprint(w, s.body)
}

func (u *scriptedUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests
}

func (u *scriptedUpstream) sawIfNoneMatch(etag string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, v := range u.ifNone {
		if v == etag {
			return true
		}
	}
	return false
}

func TestPollDeliversOnlyRealChanges(t *testing.T) {
	up := &scriptedUpstream{script: []step{
		{status: 200, body: "a"},
		{status: 200, body: "a"},                               // same body: not a change
		{status: 200, body: "a", delay: 80 * time.Millisecond}, // slower than the interval
		{status: 500},
		{status: 503, delay: 40 * time.Millisecond},
		{status: 200, body: "b", etag: `"e1"`},
		{status: 200, body: "b", etag: `"e1"`}, // answered 304 to If-None-Match "e1"
	}}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	opts := testOptions(t, config.KindPoll, srv.URL)
	opts.Reconnect = true
	opts.Metrics = NewMetrics(prometheus.NewRegistry())
	conn := dial(t, opts)
	sink := newRecSink()
	startRun(t, conn, sink)

	sink.waitUntil(t, "12 requests", func() bool { return up.count() >= 12 })
	if got := dataOf(sink.messages()); strings.Join(got, ",") != "a,b" {
		t.Errorf("messages = %q, want [a b]", got)
	}
	if m := up.maxInFlight.Load(); m != 1 {
		t.Errorf("at most %d requests were in flight at once, want 1", m)
	}
	if !up.sawIfNoneMatch(`"e1"`) {
		t.Error("upstream never got If-None-Match \"e1\"")
	}
	if v := testutil.ToFloat64(opts.Metrics.failures.WithLabelValues("/t", "poll")); v != 2 {
		t.Errorf("failures_total = %v, want 2", v)
	}
	if v := testutil.ToFloat64(opts.Metrics.reconnects.WithLabelValues("/t", "poll")); v != 1 {
		t.Errorf("reconnects_total = %v, want 1", v)
	}
	if gaps := sink.gaps(); len(gaps) != 0 {
		t.Errorf("gaps = %q, want none", gaps)
	}
}

func TestPollSlowUpstreamNeverOverlaps(t *testing.T) {
	up := &scriptedUpstream{script: []step{{status: 200, body: "x", delay: 50 * time.Millisecond}}}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	opts := testOptions(t, config.KindPoll, srv.URL)
	opts.Route.Upstream.Interval = config.Duration(5 * time.Millisecond)
	conn := dial(t, opts)
	startRun(t, conn, newRecSink())
	waitFor(t, "8 requests", func() bool { return up.count() >= 8 }, nil)
	if m := up.maxInFlight.Load(); m != 1 {
		t.Errorf("at most %d requests were in flight at once, want 1", m)
	}
}

func TestPollSplitJSONArrayOnChange(t *testing.T) {
	up := &scriptedUpstream{script: []step{
		{status: 200, body: `[1, {"b": 2}]`},
		{status: 200, body: `[1, {"b": 2}]`},
		{status: 200, body: `[3]`},
	}}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	opts := testOptions(t, config.KindPoll, srv.URL)
	opts.Route.Upstream.Split = config.SplitJSONArray
	conn := dial(t, opts)
	sink := newRecSink()
	startRun(t, conn, sink)
	sink.waitUntil(t, "5 requests", func() bool { return up.count() >= 5 })
	if got := dataOf(sink.messages()); strings.Join(got, "|") != `1|{"b": 2}|3` {
		t.Errorf("messages = %q", got)
	}
}

func TestPollSessionFailures(t *testing.T) {
	t.Run("first request fails: Dial fails", func(t *testing.T) {
		up := &scriptedUpstream{script: []step{{status: 503}}}
		srv := httptest.NewServer(up)
		t.Cleanup(srv.Close)
		if _, err := Dial(t.Context(), testOptions(t, config.KindPoll, srv.URL)); err == nil || !strings.Contains(err.Error(), "503") {
			t.Errorf("Dial = %v, want a 503 error", err)
		}
	})
	t.Run("unreachable: Dial fails", func(t *testing.T) {
		url := "http://" + freeport.Refusing(t)
		if _, err := Dial(t.Context(), testOptions(t, config.KindPoll, url)); err == nil {
			t.Error("Dial to a closed port succeeded")
		}
	})
	t.Run("later 404 ends Run with 1014", func(t *testing.T) {
		up := &scriptedUpstream{script: []step{{status: 200, body: "x"}, {status: 500}, {status: 404}}}
		srv := httptest.NewServer(up)
		t.Cleanup(srv.Close)
		conn := dial(t, testOptions(t, config.KindPoll, srv.URL))
		sink := newRecSink()
		r := startRun(t, conn, sink)
		if info := r.wait(t); info.Code != CloseBadGateway || !strings.Contains(info.Reason, "404") {
			t.Errorf("CloseInfo = %+v, want 1014 mentioning 404", info)
		}
		if got := dataOf(sink.messages()); len(got) != 1 || got[0] != "x" {
			t.Errorf("messages = %q", got)
		}
	})
}

func TestPollCloseAndCancelStopRun(t *testing.T) {
	up := &scriptedUpstream{script: []step{{status: 200, body: "x", delay: time.Hour}}}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	opts := testOptions(t, config.KindPoll, srv.URL)
	opts.Reconnect = true
	opts.Route.Upstream.Timeout = config.Duration(time.Hour)

	conn := dial(t, opts)
	r := startRun(t, conn, newRecSink())
	waitFor(t, "a request in flight", func() bool { return up.count() >= 1 }, nil)
	conn.Close()
	if info := r.wait(t); info.Code != CloseNormal {
		t.Errorf("after Close: %+v, want 1000", info)
	}

	conn = dial(t, opts)
	r = startRun(t, conn, newRecSink())
	waitFor(t, "a request in flight", func() bool { return up.count() >= 2 }, nil)
	r.cancel()
	if info := r.wait(t); info.Code != CloseGoingAway {
		t.Errorf("after cancel: %+v, want 1001", info)
	}
}

func TestPollSendsIfModifiedSince(t *testing.T) {
	const stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("If-Modified-Since"))
		mu.Unlock()
		if r.Header.Get("If-Modified-Since") == stamp {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Last-Modified", stamp)
		fmt.Fprint(w, "doc")
	}))
	t.Cleanup(srv.Close)
	conn := dial(t, testOptions(t, config.KindPoll, srv.URL))
	sink := newRecSink()
	startRun(t, conn, sink)
	waitFor(t, "three requests", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= 3
	}, nil)
	mu.Lock()
	defer mu.Unlock()
	if seen[0] != "" || seen[1] != stamp || seen[2] != stamp {
		t.Errorf("If-Modified-Since per request = %q", seen)
	}
	if got := dataOf(sink.messages()); len(got) != 1 || got[0] != "doc" {
		t.Errorf("messages = %q", got)
	}
}
