package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// tickJSON is the body of the JSON document and the SSE event data.
func tickJSON(t tickAt) []byte {
	b, _ := json.Marshal(struct {
		N    int    `json:"n"`
		Time string `json:"time"`
	}{t.n, t.at.UTC().Format(time.RFC3339)})
	return b
}

// eventFeed is the SSE demo: event N per tick, with "id: N", resumable with
// Last-Event-ID (or ?lastEventId=) while N is among the last historySize
// ticks.
type eventFeed struct {
	clock *clock
	done  <-chan struct{}
}

func (f *eventFeed) serve(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	last := -1 // -1: no resume, start with the next tick
	id := r.Header.Get("Last-Event-ID")
	if id == "" {
		id = r.URL.Query().Get("lastEventId")
	}
	if id != "" {
		n, err := strconv.Atoi(id)
		if err != nil || n < 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"bad_last_event_id","message":"Last-Event-ID must be a tick number"}`+"\n")
			return
		}
		last = n
	}
	// No id, or one from the future (a previous run of the demo): start now.
	if cur, _ := f.clock.current(); last < 0 || last > cur.n {
		last = cur.n
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\n\n")
	flusher.Flush()
	for {
		ticks, next := f.clock.since(last)
		for _, t := range ticks {
			if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", t.n, tickJSON(t)); err != nil {
				return
			}
			last = t.n
		}
		flusher.Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		case <-f.done:
			return
		}
	}
}

// serveTime answers the current JSON document, or 304 when the client's
// If-None-Match / If-Modified-Since still matches it.
func (u *Upstreams) serveTime(w http.ResponseWriter, r *http.Request) {
	cur, _ := u.clock.current()
	writeTime(w, r, cur)
}

// serveTimeWait is the long-poll version: while If-None-Match names the
// current document, the request is held until the next tick (or 25s, then
// 304).
func (u *Upstreams) serveTimeWait(w http.ResponseWriter, r *http.Request) {
	cur, next := u.clock.current()
	if r.Header.Get("If-None-Match") == etagOf(cur) {
		hold := time.NewTimer(25 * time.Second)
		defer hold.Stop()
		select {
		case <-next:
			cur, _ = u.clock.current()
		case <-hold.C:
		case <-r.Context().Done():
			return
		case <-u.done:
			return
		}
	}
	writeTime(w, r, cur)
}

func etagOf(t tickAt) string { return `"` + strconv.Itoa(t.n) + `"` }

func writeTime(w http.ResponseWriter, r *http.Request, t tickAt) {
	h := w.Header()
	h.Set("ETag", etagOf(t))
	h.Set("Last-Modified", t.at.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", "no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if inm == etagOf(t) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !t.at.Truncate(time.Second).After(ims) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	w.Write(tickJSON(t))
}
