package upstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/config"
)

// resumableFeed is an SSE upstream with events 1..total that replays from
// the Last-Event-ID it receives. The first connection is killed in the
// middle of event killAt (after half of its bytes went out).
type resumableFeed struct {
	total, killAt int
	withIDs       bool

	mu          sync.Mutex
	lastEventID []string // what each request carried
}

func (f *resumableFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.lastEventID = append(f.lastEventID, r.Header.Get("Last-Event-ID"))
	first := len(f.lastEventID) == 1
	f.mu.Unlock()
	if r.Header.Get("Accept") != "text/event-stream" {
		http.Error(w, "want Accept: text/event-stream", http.StatusNotAcceptable)
		return
	}
	start := 1
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.Atoi(id)
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		start = n + 1
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fmt.Fprint(w, ": welcome\n\n")
	for i := start; i <= f.total; i++ {
		var ev string
		if f.withIDs {
			ev = fmt.Sprintf("id: %d\nevent: tick\ndata: event %d\ndata: line two\n\n", i, i)
		} else {
			ev = fmt.Sprintf("data: event %d\n\n", i)
		}
		if first && i == f.killAt {
			fmt.Fprint(w, ev[:len(ev)/2])
			fl.Flush()
			panic(http.ErrAbortHandler) // kill the connection mid-event
		}
		fmt.Fprint(w, ev)
		fl.Flush()
	}
	<-r.Context().Done() // keep the stream open until the client leaves
}

func (f *resumableFeed) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lastEventID...)
}

func TestSSEResumesWithLastEventIDAndNoDuplicate(t *testing.T) {
	feed := &resumableFeed{total: 10, killAt: 4, withIDs: true}
	srv := httptest.NewServer(feed)
	t.Cleanup(srv.Close)

	opts := testOptions(t, config.KindSSE, srv.URL+"/feed")
	opts.Reconnect = true
	opts.Header = http.Header{"X-Api-Key": {"k"}}
	conn := dial(t, opts)
	sink := newRecSink()
	startRun(t, conn, sink)
	got := sink.waitMessages(t, 10)

	for i, m := range got {
		want := msg.Message{Event: "tick", Data: fmt.Appendf(nil, "event %d\nline two", i+1), UpstreamID: strconv.Itoa(i + 1)}
		if m.Event != want.Event || string(m.Data) != string(want.Data) || m.UpstreamID != want.UpstreamID {
			t.Errorf("message %d = %+v, want %+v", i, m, want)
		}
	}
	if len(got) != 10 {
		t.Errorf("got %d messages, want exactly 10", len(got))
	}
	if gaps := sink.gaps(); len(gaps) != 0 {
		t.Errorf("gaps = %q, want none: the upstream resumed", gaps)
	}
	if seen := feed.seen(); len(seen) != 2 || seen[0] != "" || seen[1] != "3" {
		t.Errorf("Last-Event-ID per request = %q, want [\"\" \"3\"]", seen)
	}
}

func TestSSEReconnectWithoutIDReportsGap(t *testing.T) {
	feed := &resumableFeed{total: 3, killAt: 2}
	srv := httptest.NewServer(feed)
	t.Cleanup(srv.Close)
	opts := testOptions(t, config.KindSSE, srv.URL)
	opts.Reconnect = true
	conn := dial(t, opts)
	sink := newRecSink()
	startRun(t, conn, sink)
	sink.waitMessages(t, 4) // 1, then 1 2 3 again from the restarted feed

	entries := sink.snapshot()
	if len(entries) != 5 || entries[1].gap == "" {
		t.Fatalf("entries = %+v, want message, gap, three messages", entries)
	}
	if got := dataOf(sink.messages()); strings.Join(got, ",") != "event 1,event 1,event 2,event 3" {
		t.Errorf("messages = %q", got)
	}
	if m := sink.messages()[0]; m.Event != "" || m.UpstreamID != "" {
		t.Errorf("default event = %+v, want Event \"\" and no id", m)
	}
}

func TestSSESessionEndsWithStream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		abort  bool
		code   int
		events int
	}{
		{"clean end is 1000", false, CloseNormal, 2},
		{"broken stream is 1006", true, CloseAbnormal, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "data: one\n\n")
				w.(http.Flusher).Flush()
				if tc.abort {
					panic(http.ErrAbortHandler)
				}
				fmt.Fprint(w, "data: two\n\n")
			}))
			t.Cleanup(srv.Close)
			conn := dial(t, testOptions(t, config.KindSSE, srv.URL))
			sink := newRecSink()
			r := startRun(t, conn, sink)
			if info := r.wait(t); info.Code != tc.code {
				t.Errorf("CloseInfo = %+v, want %d", info, tc.code)
			}
			if got := len(sink.messages()); got != tc.events {
				t.Errorf("got %d messages, want %d", got, tc.events)
			}
		})
	}
}

func TestSSEDialFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"status", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusInternalServerError) }, "500"},
		{"content type", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{}")
		}, "content type"},
		{"no content", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, "204"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			_, err := Dial(t.Context(), testOptions(t, config.KindSSE, srv.URL))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Dial = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestSSEReconnectingStopsOn204(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		requests++
		n := requests
		mu.Unlock()
		if n > 1 {
			w.WriteHeader(http.StatusNoContent) // "do not reconnect"
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 1\ndata: only\n\n")
	}))
	t.Cleanup(srv.Close)
	opts := testOptions(t, config.KindSSE, srv.URL)
	opts.Reconnect = true
	conn := dial(t, opts)
	sink := newRecSink()
	r := startRun(t, conn, sink)
	if info := r.wait(t); info.Code != CloseNormal || !strings.Contains(info.Reason, "204") {
		t.Errorf("CloseInfo = %+v, want 1000 mentioning 204", info)
	}
	if got := dataOf(sink.messages()); len(got) != 1 {
		t.Errorf("messages = %q", got)
	}
}

func TestSSECloseAndCancelStopRun(t *testing.T) {
	feed := &resumableFeed{total: 1, withIDs: true}
	srv := httptest.NewServer(feed)
	t.Cleanup(srv.Close)

	conn := dial(t, testOptions(t, config.KindSSE, srv.URL))
	sink := newRecSink()
	r := startRun(t, conn, sink)
	sink.waitMessages(t, 1)
	conn.Close()
	if info := r.wait(t); info.Code != CloseNormal {
		t.Errorf("after Close: %+v, want 1000", info)
	}

	conn = dial(t, testOptions(t, config.KindSSE, srv.URL))
	r = startRun(t, conn, newRecSink())
	r.cancel()
	if info := r.wait(t); info.Code != CloseGoingAway {
		t.Errorf("after cancel: %+v, want 1001", info)
	}

	// A stream opened by Dial and never run is released by Close.
	conn = dial(t, testOptions(t, config.KindSSE, srv.URL))
	conn.Close()
	if err := conn.Send(t.Context(), msg.Message{}); err != ErrSendUnsupported {
		t.Errorf("Send = %v, want ErrSendUnsupported", err)
	}
}
