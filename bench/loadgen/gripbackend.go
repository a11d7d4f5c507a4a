package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// GripBackend is the origin Pushpin proxies the bench's subscribers to. It
// holds no connection itself: it answers each request with GRIP
// instructions and Pushpin holds the client and fans published items out.
//
//	GET  /c/CHANNEL/sse         -> an SSE stream held open on CHANNEL
//	POST /c/CHANNEL/websocket   -> WebSocket-over-HTTP: OPEN is accepted and
//	                               subscribed to CHANNEL; later events get an
//	                               empty answer (a CLOSE is answered in kind)
type GripBackend struct{ svc *httpService }

// StartGripBackend listens on addr and serves until Close.
func StartGripBackend(addr string) (*GripBackend, error) {
	svc, err := startHTTPService("grip backend", addr, http.HandlerFunc(serveGrip))
	if err != nil {
		return nil, err
	}
	return &GripBackend{svc: svc}, nil
}

// Addr is the address the backend listens on.
func (g *GripBackend) Addr() string { return g.svc.addr() }

// Close stops the backend and waits for its goroutines.
func (g *GripBackend) Close() { g.svc.close() }

// gripChannel reads CHANNEL from /c/CHANNEL/...
func gripChannel(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/c/")
	if !ok {
		return "", false
	}
	ch, _, _ := strings.Cut(rest, "/")
	return ch, ch != ""
}

func serveGrip(w http.ResponseWriter, r *http.Request) {
	ch, ok := gripChannel(r.URL.Path)
	if !ok {
		http.Error(w, "want /c/CHANNEL/sse or /c/CHANNEL/websocket", http.StatusNotFound)
		return
	}
	if r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Grip-Hold", "stream")
		w.Header().Set("Grip-Channel", ch)
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Header.Get("Content-Type") != "application/websocket-events" {
		http.Error(w, "want GET (SSE) or WebSocket-over-HTTP events", http.StatusBadRequest)
		return
	}
	events, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return
	}
	w.Header().Set("Content-Type", "application/websocket-events")
	var out bytes.Buffer
	switch {
	case bytes.HasPrefix(events, []byte("OPEN\r\n")):
		w.Header().Set("Sec-WebSocket-Extensions", "grip")
		sub := `c:{"type":"subscribe","channel":"` + ch + `"}`
		fmt.Fprintf(&out, "OPEN\r\nTEXT %x\r\n%s\r\n", len(sub), sub)
	case bytes.Contains(events, []byte("CLOSE")):
		out.WriteString("CLOSE\r\n")
	}
	w.Write(out.Bytes())
}
