package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitLimit = 30 * time.Second

func startDemo(t *testing.T, tick time.Duration) *Upstreams {
	t.Helper()
	u, err := start(t.Context(), zaptest.NewLogger(t), tick)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func wsDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(waitLimit))
	return ws
}

type tickMsg struct {
	Type string `json:"type"`
	N    int    `json:"n"`
	Time string `json:"time"`
}

// readNonTick returns the next frame that is not a tick.
func readNonTick(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var tm tickMsg
		if kind == websocket.TextMessage && json.Unmarshal(data, &tm) == nil && tm.Type == "tick" {
			continue
		}
		return kind, string(data)
	}
}

func TestChatBroadcastsPerPathAndTicks(t *testing.T) {
	u := startDemo(t, 20*time.Millisecond)
	a, b := wsDial(t, u.ChatURL()), wsDial(t, u.ChatURL())
	other := wsDial(t, u.ChatURL()+"/other")

	// Ticks come to every client, numbered upwards.
	prev := 0
	for range 3 {
		_, data, err := other.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var tm tickMsg
		if err := json.Unmarshal(data, &tm); err != nil || tm.Type != "tick" || tm.N <= prev || tm.Time == "" {
			t.Fatalf("tick = %s (%v), want a tick after %d", data, err, prev)
		}
		prev = tm.N
	}

	// b's joining may race a's write; wait until b is surely in the room by
	// seeing a tick on it first.
	readTick(t, b)
	if err := a.WriteMessage(websocket.TextMessage, []byte("hi all")); err != nil {
		t.Fatal(err)
	}
	for _, ws := range []*websocket.Conn{a, b} {
		if kind, data := readNonTick(t, ws); kind != websocket.TextMessage || data != "hi all" {
			t.Errorf("got %d %q, want text \"hi all\"", kind, data)
		}
	}
	if err := other.WriteMessage(websocket.TextMessage, []byte("other room")); err != nil {
		t.Fatal(err)
	}
	if _, data := readNonTick(t, other); data != "other room" {
		t.Errorf("other room got %q", data)
	}
	if err := a.WriteMessage(websocket.TextMessage, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if _, data := readNonTick(t, b); data != "second" {
		t.Errorf("b got %q, want \"second\" (and never \"other room\")", data)
	}
}

func readTick(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var tm tickMsg
	if json.Unmarshal(data, &tm) != nil || tm.Type != "tick" {
		t.Fatalf("want a tick, got %s", data)
	}
}

func TestEchoReturnsToSenderOnly(t *testing.T) {
	u := startDemo(t, time.Hour)
	a, b := wsDial(t, u.EchoURL()), wsDial(t, u.EchoURL())
	if err := a.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if kind, data := readNonTick(t, a); kind != websocket.BinaryMessage || data != "\x01\x02\x03" {
		t.Errorf("echo = %d %q", kind, data)
	}
	if err := b.WriteMessage(websocket.TextMessage, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, data := readNonTick(t, b); data != "b" {
		t.Errorf("b got %q, want its own message only", data)
	}
}

// sseEvents reads n events (id, data) from an SSE response.
func sseEvents(t *testing.T, body io.Reader, n int) [][2]string {
	t.Helper()
	sc := bufio.NewScanner(body)
	var out [][2]string
	var id, data string
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		case line == "" && data != "":
			out = append(out, [2]string{id, data})
			id, data = "", ""
		}
	}
	if len(out) < n {
		t.Fatalf("stream ended after %d events: %v", len(out), sc.Err())
	}
	return out
}

func getSSE(t *testing.T, url, lastID string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	return resp
}

func TestSSEFeedResumes(t *testing.T) {
	u := startDemo(t, 20*time.Millisecond)
	first := sseEvents(t, getSSE(t, u.SSEURL(), "").Body, 3)
	for i := 1; i < 3; i++ {
		a, _ := strconv.Atoi(first[i-1][0])
		b, _ := strconv.Atoi(first[i][0])
		if b != a+1 {
			t.Fatalf("ids %v are not consecutive", first)
		}
	}
	var payload struct {
		N int `json:"n"`
	}
	if err := json.Unmarshal([]byte(first[0][1]), &payload); err != nil || strconv.Itoa(payload.N) != first[0][0] {
		t.Errorf("data %q does not carry n = id %s", first[0][1], first[0][0])
	}
	resumed := sseEvents(t, getSSE(t, u.SSEURL(), first[1][0]).Body, 2)
	if resumed[0] != first[2] {
		t.Errorf("resume after %s started with %v, want %v", first[1][0], resumed[0], first[2])
	}
}

func TestJSONConditionalRequests(t *testing.T) {
	u := startDemo(t, time.Hour) // no tick during the test: the document is stable
	resp, err := http.Get(u.JSONURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if resp.StatusCode != 200 || etag == "" || lastMod == "" || !json.Valid(body) {
		t.Fatalf("GET = %d etag %q last-modified %q body %s", resp.StatusCode, etag, lastMod, body)
	}
	for _, h := range [][2]string{{"If-None-Match", etag}, {"If-Modified-Since", lastMod}} {
		req, _ := http.NewRequest(http.MethodGet, u.JSONURL(), nil)
		req.Header.Set(h[0], h[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s: status %d, want 304", h[0], resp.StatusCode)
		}
	}
}

func TestLongPollWaitsForChange(t *testing.T) {
	u := startDemo(t, 20*time.Millisecond)
	resp, err := http.Get(u.LongPollURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, u.LongPollURL(), nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("held poll = %d etag %q, want 200 with a new etag (old %q)", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}
}

func TestCloseSaysGoingAwayAndStopsEverything(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u, err := start(ctx, zaptest.NewLogger(t), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ws := wsDial(t, u.ChatURL())
	readTick(t, ws)
	sse := getSSE(t, u.SSEURL(), "")
	cancel() // ctx ends the demo like Close does
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Errorf("client got %v, want close 1001", err)
			}
			break
		}
	}
	if _, err := io.Copy(io.Discard, sse.Body); err != nil && !strings.Contains(err.Error(), "EOF") {
		t.Logf("sse ended with %v", err)
	}
	u.Close() // waits for everything; idempotent after ctx
	if _, err := http.Get(u.JSONURL()); err == nil {
		t.Error("server still answers after Close")
	}
	if u.BaseURL() != "http://"+u.Addr() || !strings.HasPrefix(u.Addr(), "127.0.0.1:") {
		t.Errorf("BaseURL %q, Addr %q", u.BaseURL(), u.Addr())
	}
}

func TestStartWithDoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	u, err := start(ctx, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u.Close() // waits for the AfterFunc-triggered close too
}
