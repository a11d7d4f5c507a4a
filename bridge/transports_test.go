package bridge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

const n1000 = 1000

// binaryPayload is what the test upstream's "bflood" sends as message i.
func binaryPayload(i int) []byte { return binary.BigEndian.AppendUint32([]byte{0xff, 0}, uint32(i)) }

func TestWebSocketBothWays(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	hdr := http.Header{"Sec-Websocket-Protocol": {"chat.v2"}, "Cookie": {"sid=abc"}}
	ws, resp := dialWS(t, g.wsURL("/chat"), hdr)
	if ws == nil {
		t.Fatalf("dial: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-Websocket-Protocol"); got != "chat.v2" {
		t.Fatalf("subprotocol %q, want chat.v2 from the upstream", got)
	}
	// Client → upstream, echoed back: text and binary interleaved.
	go func() {
		for i := range n1000 {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("t%d", i)))
			_ = ws.WriteMessage(websocket.BinaryMessage, []byte{0, 1, byte(i), byte(i >> 8)})
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte("flood 1000"))
		_ = ws.WriteMessage(websocket.TextMessage, []byte("bflood 1000"))
	}()
	for i := range n1000 {
		kind, data, err := ws.ReadMessage()
		if err != nil || kind != websocket.TextMessage || string(data) != fmt.Sprintf("t%d", i) {
			t.Fatalf("echo %d: %v %d %q", i, err, kind, data)
		}
		kind, data, err = ws.ReadMessage()
		if err != nil || kind != websocket.BinaryMessage || !bytes.Equal(data, []byte{0, 1, byte(i), byte(i >> 8)}) {
			t.Fatalf("binary echo %d: %v %d %x", i, err, kind, data)
		}
	}
	for i := range n1000 {
		kind, data, err := ws.ReadMessage()
		if err != nil || kind != websocket.TextMessage || string(data) != wantText(i) {
			t.Fatalf("flood %d: %v %q", i, err, data)
		}
	}
	for i := range n1000 {
		kind, data, err := ws.ReadMessage()
		if err != nil || kind != websocket.BinaryMessage || !bytes.Equal(data, binaryPayload(i)) {
			t.Fatalf("bflood %d: %v %x", i, err, data)
		}
	}
	if _, _, received := up.stats(); received != 2*n1000 {
		t.Fatalf("upstream received %d messages, want %d", received, 2*n1000)
	}
	up.mu.Lock()
	h := up.headers
	up.mu.Unlock()
	if h.Get("Cookie") != "sid=abc" || h.Get("X-Forwarded-For") == "" || h.Get("X-Forwarded-Proto") != "http" {
		t.Fatalf("upstream handshake headers %v", h)
	}
	// The client leaving ends its session and the upstream connection.
	ws.Close()
	waitFor(t, "upstream connection closed", func() bool { open, _, _ := up.stats(); return open == 0 })
}

func TestWebSocketCloseCodePassesThrough(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ws := mustDialWS(t, g.wsURL("/chat/ws"), nil)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("close 4001 bye now"))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != 4001 || ce.Text != "bye now" {
		t.Fatalf("want close 4001 'bye now', got %v", err)
	}
}

// TestLongMultiByteCloseReasonCutAtRune: an upstream close reason longer
// than a client close frame takes is cut before the character that would
// not fit, never inside it: a reason that is not UTF-8 makes browsers fail
// the connection (1007) instead of reporting the close.
func TestLongMultiByteCloseReasonCutAtRune(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	// 122 bytes (an upstream close frame holds up to 123): the euro sign's
	// three bytes are 119-121, across the gateway's 120-byte limit.
	reason := strings.Repeat("x", 119) + "€"
	ws := mustDialWS(t, g.wsURL("/chat/ws"), nil)
	if err := ws.WriteMessage(websocket.TextMessage, []byte("close 4001 "+reason)); err != nil {
		t.Fatal(err)
	}
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) {
		t.Fatalf("want close 4001 with a valid UTF-8 reason, got %v", err)
	}
	if ce.Code != 4001 || !utf8.ValidString(ce.Text) || ce.Text != strings.Repeat("x", 119) {
		t.Fatalf("close %d %q, want 4001 and the reason's 119 bytes before the euro sign", ce.Code, ce.Text)
	}
}

func asCloseError(err error, ce **websocket.CloseError) bool {
	c, ok := err.(*websocket.CloseError)
	if ok {
		*ce = c
	}
	return ok
}

func TestWebSocketOversizedMessage(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{MaxMessageBytes: 1024})
	ws := mustDialWS(t, g.wsURL("/chat"), nil)
	_ = ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 2048))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("want close 1009, got %v", err)
	}
}

func TestSSEBothWays(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := g.openSSE(t, ctx, "/chat/sse", nil)
	defer s.resp.Body.Close()
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store, no-transform", "X-Accel-Buffering": "no",
	} {
		if got := s.resp.Header.Get(k); got != want {
			t.Fatalf("%s: %q, want %q", k, got, want)
		}
	}
	session, sendURL := s.session(t)
	if s.p.Retry() != 2000 {
		t.Fatalf("retry %d, want 2000 before the session event", s.p.Retry())
	}
	if sendURL != "/chat/send?session="+session {
		t.Fatalf("send url %q", sendURL)
	}
	// Client → upstream by POST /send (JSON batches), echoed back over SSE.
	for batch := 0; batch < n1000/100; batch++ {
		var msgs []string
		for i := range 100 {
			msgs = append(msgs, fmt.Sprintf("t%d", batch*100+i))
		}
		body, _ := json.Marshal(map[string]any{"messages": msgs})
		resp := g.post(t, sendURL+fmt.Sprintf("&seq=%d", batch), "application/json", body, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("send: %d", resp.StatusCode)
		}
	}
	// A retried seq is acknowledged but not sent again.
	resp := g.post(t, sendURL+"&seq=9", "application/json", []byte(`{"messages":["dup"]}`), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("repeated seq: %d", resp.StatusCode)
	}
	for i := range n1000 {
		ev := s.next(t)
		if ev.Type != "message" || ev.Data != fmt.Sprintf("t%d", i) || ev.ID == "" {
			t.Fatalf("echo %d: %+v", i, ev)
		}
	}
	// Binary from the client, upstream → client text and binary.
	resp = g.post(t, sendURL, "application/octet-stream", []byte{0xde, 0xad, 0xbe, 0xef}, nil)
	resp.Body.Close()
	g.send(t, session, "flood 1000")
	g.send(t, session, "bflood 1000")
	ev := s.next(t)
	if ev.Type != "binary" || ev.Data != base64.StdEncoding.EncodeToString([]byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Fatalf("binary echo: %+v", ev)
	}
	for i := range n1000 {
		if ev := s.next(t); ev.Data != wantText(i) {
			t.Fatalf("flood %d: %+v", i, ev)
		}
	}
	for i := range n1000 {
		if ev := s.next(t); ev.Type != "binary" || ev.Data != base64.StdEncoding.EncodeToString(binaryPayload(i)) {
			t.Fatalf("bflood %d: %+v", i, ev)
		}
	}
	if _, _, received := up.stats(); received != n1000+1 {
		t.Fatalf("upstream received %d, want %d (the repeated seq must not be sent)", received, n1000+1)
	}
}

func TestSSEInjectionSafe(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := g.openSSE(t, ctx, "/chat", nil) // the route path with Accept: text/event-stream
	defer s.resp.Body.Close()
	session, _ := s.session(t)
	nasty := []string{"a\rb", "a\nb", "a\r\nb", "data: forged", "id: 999", "event: close", "nul\x00byte",
		"x\n\nevent: close\ndata: {}\n\n", "\r\n\r\n", "", " leading", "retry: 1"}
	for _, d := range nasty {
		g.send(t, session, "say "+d)
	}
	for _, d := range nasty {
		ev := s.next(t)
		want := strings.ReplaceAll(strings.ReplaceAll(d, "\r\n", "\n"), "\r", "\n")
		if ev.Type != "message" || ev.Data != want {
			t.Fatalf("sent %q: got event %+v, want data %q", d, ev, want)
		}
	}
	if s.p.Retry() != 2000 {
		t.Fatalf("upstream content changed retry to %d", s.p.Retry())
	}
}

func TestLongPollBothWays(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, resp := g.poll(t, ctx, "", nil)
	if resp.StatusCode != http.StatusOK || first.Session == "" || first.Cursor == "" || first.Messages == nil {
		t.Fatalf("opening poll: %d %+v", resp.StatusCode, first)
	}
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	session := first.Session
	go func() {
		for i := range n1000 {
			g.send(t, session, fmt.Sprintf("t%d", i))
		}
		g.send(t, session, "flood 1000")
		_ = g.post(t, "/chat/send?session="+session, "application/octet-stream", []byte{1, 2, 3}, nil).Body.Close()
	}()
	var got []message
	cursor := first.Cursor
	for len(got) < 2*n1000+1 {
		a, resp := g.poll(t, ctx, "?cursor="+cursor, nil)
		if resp.StatusCode != http.StatusOK || a.Gap != nil || a.Closed != nil {
			t.Fatalf("poll: %d %+v", resp.StatusCode, a)
		}
		got = append(got, a.Messages...)
		cursor = a.Cursor
	}
	for i := range n1000 {
		if got[i].Data != fmt.Sprintf("t%d", i) || got[i].Event != "message" || got[i].Binary {
			t.Fatalf("echo %d: %+v", i, got[i])
		}
		if got[n1000+i].Data != wantText(i) {
			t.Fatalf("flood %d: %+v", i, got[n1000+i])
		}
	}
	last := got[2*n1000]
	if !last.Binary || last.Data != base64.StdEncoding.EncodeToString([]byte{1, 2, 3}) {
		t.Fatalf("binary: %+v", last)
	}
	// The ids are cursors: resuming from one gives what follows it.
	a, _ := g.poll(t, ctx, "?wait=0&cursor="+got[2*n1000-2].ID, nil)
	if len(a.Messages) != 2 || a.Messages[0].ID != got[2*n1000-1].ID {
		t.Fatalf("resume from an id: %+v", a)
	}
}

func TestShortPollAndJSONP(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "?wait=0", nil)
	// wait=0 answers at once even with nothing new.
	a, _ := g.poll(t, ctx, "?wait=0&cursor="+first.Cursor, nil)
	if len(a.Messages) != 0 || a.Cursor != first.Cursor {
		t.Fatalf("empty short poll: %+v", a)
	}
	g.send(t, first.Session, "flood 3")
	var got []string
	cursor := first.Cursor
	waitFor(t, "short polls to see 3 messages", func() bool {
		a, _ := g.poll(t, ctx, "?wait=0&cursor="+cursor, nil)
		for _, m := range a.Messages {
			got = append(got, m.Data)
		}
		cursor = a.Cursor
		return len(got) >= 3
	})
	checkSeq(t, got, 3, "short poll")

	resp := g.get(t, ctx, "/chat/poll?callback=my.cb_1&cursor="+first.Cursor, nil)
	defer resp.Body.Close()
	body := readAll(t, resp)
	if resp.Header.Get("Content-Type") != "application/javascript" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("JSONP headers %v", resp.Header)
	}
	if !strings.HasPrefix(body, "/**/my.cb_1({") || !strings.HasSuffix(body, "});") {
		t.Fatalf("JSONP body %q", body)
	}
	var inner pollAnswer
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(body, "/**/my.cb_1("), ");")), &inner); err != nil || len(inner.Messages) != 3 {
		t.Fatalf("JSONP payload %q: %v", body, err)
	}
	for _, bad := range []string{"1abc", "a-b", "alert(1)//", strings.Repeat("a", 65), ""} {
		expectError(t, g.get(t, ctx, "/chat/poll?callback="+bad, nil), http.StatusBadRequest, "bad_callback")
	}
}

func TestStreamBothWays(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	st := g.openStream(t, ctx, "?padding=2048", nil)
	defer st.resp.Body.Close()
	if ct := st.resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("content type %q", ct)
	}
	head := st.next(t)
	if head.Session == "" {
		t.Fatalf("first line %+v, want session", head)
	}
	go func() {
		for i := range n1000 {
			g.send(t, head.Session, fmt.Sprintf("t%d", i))
		}
		g.send(t, head.Session, "flood 1000")
	}()
	for i := range n1000 {
		if l := st.next(t); l.Data != fmt.Sprintf("t%d", i) || l.ID == "" {
			t.Fatalf("echo %d: %+v", i, l)
		}
	}
	for i := range n1000 {
		if l := st.next(t); l.Data != wantText(i) {
			t.Fatalf("flood %d: %+v", i, l)
		}
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
