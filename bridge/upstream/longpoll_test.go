package upstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bridgeway/bridgeway/config"
)

// versionedUpstream is a long-poll upstream: a request whose If-None-Match
// names the current version is held until a new version is published (or
// a short hold expires with 304); any other request gets the current body.
type versionedUpstream struct {
	mu       sync.Mutex
	version  int
	body     string
	status   int // answered instead while failures > 0
	failures int
	changed  chan struct{} // closed and replaced on publish
	ifNone   []string      // If-None-Match of every request
	requests int
}

func newVersionedUpstream() *versionedUpstream {
	return &versionedUpstream{changed: make(chan struct{})}
}

func (u *versionedUpstream) publish(body string) {
	u.mu.Lock()
	u.version++
	u.body = body
	close(u.changed)
	u.changed = make(chan struct{})
	u.mu.Unlock()
}

func (u *versionedUpstream) failNext(n, status int) {
	u.mu.Lock()
	u.failures, u.status = n, status
	u.mu.Unlock()
}

func (u *versionedUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	inm := r.Header.Get("If-None-Match")
	u.mu.Lock()
	u.requests++
	u.ifNone = append(u.ifNone, inm)
	if u.failures > 0 {
		u.failures--
		st := u.status
		u.mu.Unlock()
		http.Error(w, "failing", st)
		return
	}
	current := fmt.Sprintf(`"v%d"`, u.version)
	empty := u.version == 0
	changed := u.changed
	u.mu.Unlock()
	if empty || inm == current {
		select {
		case <-changed:
		case <-time.After(200 * time.Millisecond):
			w.WriteHeader(http.StatusNotModified)
			return
		case <-r.Context().Done():
			return
		}
	}
	u.mu.Lock()
	w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, u.version))
	body := u.body
	u.mu.Unlock()
	fmt.Fprint(w, body)
}

func (u *versionedUpstream) sentIfNoneMatch(etag string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, v := range u.ifNone {
		if v == etag {
			return true
		}
	}
	return false
}

func TestLongPollDeliversEachVersionWithETags(t *testing.T) {
	up := newVersionedUpstream()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	opts := testOptions(t, config.KindLongPoll, srv.URL)
	conn := dial(t, opts)
	sink := newRecSink()
	startRun(t, conn, sink)

	for i := 1; i <= 3; i++ {
		up.publish(fmt.Sprintf("body %d", i))
		sink.waitMessages(t, i)
		// The next request must carry the ETag of what we just got.
		sink.waitUntil(t, "If-None-Match", func() bool { return up.sentIfNoneMatch(fmt.Sprintf(`"v%d"`, i)) })
	}
	if got := dataOf(sink.messages()); strings.Join(got, ",") != "body 1,body 2,body 3" {
		t.Errorf("messages = %q", got)
	}
}

func TestLongPollSplitJSONArray(t *testing.T) {
	up := newVersionedUpstream()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	opts := testOptions(t, config.KindLongPoll, srv.URL)
	opts.Route.Upstream.Split = config.SplitJSONArray
	opts.Metrics = NewMetrics(reg)
	conn := dial(t, opts)
	sink := newRecSink()
	startRun(t, conn, sink)

	up.publish(`[{"a": 1}, 2, "x"]`)
	sink.waitMessages(t, 3)
	up.publish(`{"not": "an array"}`)
	sink.waitUntil(t, "gap", func() bool { return len(sink.gaps()) == 1 })
	up.publish(`[]`)
	up.publish("[\"after\", \"caf\xe9\"]") // invalid UTF-8 in an element: text, so U+FFFD
	got := sink.waitMessages(t, 5)

	if want := []string{`{"a": 1}`, `2`, `"x"`, `"after"`, "\"caf\uFFFD\""}; strings.Join(dataOf(got), "|") != strings.Join(want, "|") {
		t.Errorf("messages = %q, want %q", dataOf(got), want)
	}
	if v := testutil.ToFloat64(opts.Metrics.failures.WithLabelValues("/t", "longpoll")); v != 1 {
		t.Errorf("failures_total = %v, want 1 (the invalid body)", v)
	}
	if v := testutil.ToFloat64(opts.Metrics.messages.WithLabelValues("/t", "longpoll")); v != 5 {
		t.Errorf("messages_total = %v, want 5", v)
	}
	if v := testutil.ToFloat64(opts.Metrics.invalidText.WithLabelValues("/t", "longpoll")); v != 1 {
		t.Errorf("invalid_text_total = %v, want 1", v)
	}
}

func TestLongPollRecoversFrom5xx(t *testing.T) {
	up := newVersionedUpstream()
	up.publish("first")
	up.failNext(2, http.StatusBadGateway)
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	opts := testOptions(t, config.KindLongPoll, srv.URL)
	opts.Metrics = NewMetrics(prometheus.NewRegistry())
	conn := dial(t, opts)
	sink := newRecSink()
	startRun(t, conn, sink)

	sink.waitMessages(t, 1)
	up.publish("second")
	if got := dataOf(sink.waitMessages(t, 2)); strings.Join(got, ",") != "first,second" {
		t.Errorf("messages = %q", got)
	}
	if v := testutil.ToFloat64(opts.Metrics.failures.WithLabelValues("/t", "longpoll")); v != 2 {
		t.Errorf("failures_total = %v, want 2", v)
	}
	if v := testutil.ToFloat64(opts.Metrics.reconnects.WithLabelValues("/t", "longpoll")); v != 1 {
		t.Errorf("reconnects_total = %v, want 1", v)
	}
	if gaps := sink.gaps(); len(gaps) != 0 {
		t.Errorf("gaps = %q, want none", gaps)
	}
}

func TestLongPollSessionEndsOnPermanentError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	}))
	t.Cleanup(srv.Close)
	conn := dial(t, testOptions(t, config.KindLongPoll, srv.URL))
	r := startRun(t, conn, newRecSink())
	if info := r.wait(t); info.Code != CloseBadGateway || !strings.Contains(info.Reason, "410") {
		t.Errorf("CloseInfo = %+v, want 1014 mentioning 410", info)
	}
}

func TestLongPollCloseCancelsHeldRequest(t *testing.T) {
	up := newVersionedUpstream()
	up.publish("x")
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	opts := testOptions(t, config.KindLongPoll, srv.URL)
	opts.Route.Upstream.Timeout = config.Duration(time.Minute)
	conn := dial(t, opts)
	sink := newRecSink()
	r := startRun(t, conn, sink)
	sink.waitMessages(t, 1) // the next request is now held
	conn.Close()
	if info := r.wait(t); info.Code != CloseNormal {
		t.Errorf("CloseInfo = %+v, want 1000", info)
	}
}
