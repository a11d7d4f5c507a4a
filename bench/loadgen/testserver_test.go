package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeGateway speaks bridgeway's client wire format (docs/protocol.md) for
// one broadcast route at /t, fed by POST /pub. It can be told to lose,
// repeat and swap messages, so the generator's counting can be checked.
type fakeGateway struct {
	srv *httptest.Server

	mu      sync.Mutex
	log     []logEntry
	changed chan struct{}
	pubs    int
	held    []byte // a message held back to be appended after the next one

	dropPub, dupPub, swapPub int // publish numbers (1-based) to lose, repeat, swap with the next

	sources map[string]int // subscriber requests per client IP address

	// Long-poll answers after the subscribe: with messages, and without
	// (a poll that waited its 2 s out, or one ended by the run's stop).
	pollsCarrying, pollsEmpty atomic.Int64
}

type logEntry struct {
	data []byte
	gap  bool
}

func newFakeGateway() *fakeGateway {
	g := &fakeGateway{changed: make(chan struct{}), sources: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pub", g.publish)
	mux.HandleFunc("GET /t/sse", g.sse)
	mux.HandleFunc("GET /t/ws", g.websocket)
	mux.HandleFunc("GET /t/poll", g.poll)
	mux.HandleFunc("GET /t/stream", g.stream)
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			g.mu.Lock()
			g.sources[host]++
			g.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	return g
}

func (g *fakeGateway) close() { g.srv.Close() }

// runOnFakeGateway runs cfg against a fresh fake gateway without injected
// faults (cfg's URL and PublishURL are set to it) and fails the test on error.
func runOnFakeGateway(t *testing.T, cfg FanoutConfig) *FanoutResult {
	t.Helper()
	g := newFakeGateway()
	defer g.close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg.URL, cfg.PublishURL = g.srv.URL+"/t", g.srv.URL+"/pub"
	res, err := RunFanout(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (g *fakeGateway) appendLocked(e logEntry) {
	g.log = append(g.log, e)
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *fakeGateway) publish(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pubs++
	switch g.pubs {
	case g.dropPub:
		g.appendLocked(logEntry{gap: true}) // lost, and said so
	case g.dupPub:
		g.appendLocked(logEntry{data: body})
		g.appendLocked(logEntry{data: body})
	case g.swapPub:
		g.held = body
	default:
		g.appendLocked(logEntry{data: body})
		if g.held != nil {
			g.appendLocked(logEntry{data: g.held})
			g.held = nil
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// wait returns the entries after cursor, waiting up to d for some.
func (g *fakeGateway) wait(ctx context.Context, cursor int, d time.Duration) []logEntry {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		g.mu.Lock()
		entries, ch := g.log[min(cursor, len(g.log)):], g.changed
		g.mu.Unlock()
		if len(entries) > 0 || d == 0 {
			return entries
		}
		select {
		case <-ch:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

func (g *fakeGateway) cursorNow() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.log)
}

func (g *fakeGateway) sse(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	rc := http.NewResponseController(w)
	cursor := g.cursorNow()
	// Control events and comments that the generator must not count.
	fmt.Fprint(w, ": padding\nretry: 2000\n\nevent: session\ndata: {\"session\":\"s1\"}\n\n")
	rc.Flush()
	for {
		entries := g.wait(r.Context(), cursor, time.Hour)
		if r.Context().Err() != nil {
			return
		}
		for _, e := range entries {
			cursor++
			if e.gap {
				fmt.Fprintf(w, "id: %d\nevent: gap\ndata: {\"from\":\"%d\",\"to\":\"%d\"}\n\n", cursor, cursor-1, cursor)
				continue
			}
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", cursor, e.data)
		}
		if rc.Flush() != nil {
			return
		}
	}
}

func (g *fakeGateway) websocket(w http.ResponseWriter, r *http.Request) {
	cursor := g.cursorNow() // before the handshake answer: the client counts from there
	up := websocket.Upgrader{}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() { // reads so a client close ends the writer
		defer cancel()
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}()
	for {
		entries := g.wait(ctx, cursor, time.Hour)
		if ctx.Err() != nil {
			return
		}
		for _, e := range entries {
			cursor++
			if e.gap {
				continue // broadcast WebSocket carries data frames only
			}
			if c.WriteMessage(websocket.TextMessage, e.data) != nil {
				return
			}
		}
	}
}

type fakeMessage struct {
	ID    string `json:"id"`
	Event string `json:"event,omitempty"`
	Data  string `json:"data"`
}

func (g *fakeGateway) poll(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	c := r.URL.Query().Get("cursor")
	if c == "" {
		json.NewEncoder(w).Encode(map[string]any{"session": "b1", "cursor": strconv.Itoa(g.cursorNow()), "messages": []fakeMessage{}})
		return
	}
	cursor, err := strconv.Atoi(c)
	if err != nil {
		http.Error(w, `{"error":"bad_cursor","message":"cursor"}`, http.StatusBadRequest)
		return
	}
	ans := map[string]any{"session": "b1"}
	msgs := []fakeMessage{}
	for _, e := range g.wait(r.Context(), cursor, 2*time.Second) {
		cursor++
		if e.gap {
			ans["gap"] = map[string]string{"from": strconv.Itoa(cursor - 1), "to": strconv.Itoa(cursor)}
			continue
		}
		msgs = append(msgs, fakeMessage{ID: strconv.Itoa(cursor), Data: string(e.data)})
	}
	ans["cursor"], ans["messages"] = strconv.Itoa(cursor), msgs
	if len(msgs) > 0 {
		g.pollsCarrying.Add(1)
	} else {
		g.pollsEmpty.Add(1)
	}
	json.NewEncoder(w).Encode(ans)
}

func (g *fakeGateway) stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	rc := http.NewResponseController(w)
	cursor := g.cursorNow()
	fmt.Fprint(w, strings.Repeat(" ", 16)+"\n\n") // padding line and a heartbeat
	rc.Flush()
	enc := json.NewEncoder(w)
	for {
		entries := g.wait(r.Context(), cursor, time.Hour)
		if r.Context().Err() != nil {
			return
		}
		for _, e := range entries {
			cursor++
			if e.gap {
				enc.Encode(fakeMessage{ID: strconv.Itoa(cursor), Event: "gap", Data: "{}"})
				continue
			}
			enc.Encode(fakeMessage{ID: strconv.Itoa(cursor), Data: string(e.data)})
		}
		if rc.Flush() != nil {
			return
		}
	}
}
