package bridge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

// ackClient is a raw WebSocket client of ?format=json&acks=1 (no library):
// it numbers its sends, keeps the last acknowledged seq and resends
// everything after it when it resumes.
type ackClient struct {
	t     *testing.T
	base  string // http://host/chat
	id    string // session
	acked int    // last seq acknowledged, over WebSocket or POST
	up    *testUpstream
}

// seqText is what seq carries: message seq-1 of checkSeq's run.
func seqText(seq int) string { return wantText(seq - 1) }

func (c *ackClient) dial() *websocket.Conn {
	return mustDialWS(c.t, "ws"+strings.TrimPrefix(c.base, "http")+"/ws?format=json&acks=1&session="+c.id, nil)
}

// write sends seqs from..to as send frames, without waiting for acks.
func (c *ackClient) write(ws *websocket.Conn, from, to int) {
	c.t.Helper()
	for seq := from; seq <= to; seq++ {
		f, _ := json.Marshal(map[string]any{"seq": seq, "data": seqText(seq)})
		if err := ws.WriteMessage(websocket.TextMessage, f); err != nil {
			c.t.Fatalf("write seq %d: %v", seq, err)
		}
	}
}

// readAcks reads frames (the upstream's echoes are message objects) until
// the ack of seq to, and checks acks come one by one, in order.
func (c *ackClient) readAcks(ws *websocket.Conn, to int) {
	c.t.Helper()
	for c.acked < to {
		_, data, err := ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for ack %d (last %d): %v", to, c.acked, err)
		}
		var a struct{ Ack *int }
		if json.Unmarshal(data, &a) != nil || a.Ack == nil {
			continue
		}
		if *a.Ack <= c.acked {
			c.t.Fatalf("ack %d after ack %d", *a.Ack, c.acked)
		}
		c.acked = *a.Ack
	}
}

// ackedThenCut sends 1..acked on a new WebSocket and reads their acks,
// then sends up to cutAt and cuts the connection once the upstream has
// them, before their acks are read.
func (c *ackClient) ackedThenCut(acked, cutAt int) {
	c.t.Helper()
	ws := c.dial()
	c.write(ws, 1, acked)
	c.readAcks(ws, acked)
	c.write(ws, acked+1, cutAt)
	waitFor(c.t, "the upstream to get the sends", c.upstreamHas(cutAt))
	cut(ws)
}

// cut closes the TCP connection under ws: no close frame, as a network cut.
func cut(ws *websocket.Conn) { _ = ws.NetConn().Close() }

// post sends seq over POST /send, as the library does after a fallback.
func (c *ackClient) post(seq int) {
	c.t.Helper()
	resp, err := http.Post(c.base+"/send?session="+c.id+"&seq="+strconv.Itoa(seq), "text/plain", strings.NewReader(seqText(seq)))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("POST seq %d: %d %s", seq, resp.StatusCode, b)
	}
	c.acked = seq
}

// openByPoll opens a session with a short poll (as the library does: a
// session opened by a WebSocket would end with it) and returns its id.
func openByPoll(t *testing.T, base string) string {
	t.Helper()
	var open struct{ Session string }
	resp, err := http.Get(base + "/poll?wait=0")
	if err != nil || json.NewDecoder(resp.Body).Decode(&open) != nil || open.Session == "" {
		t.Fatalf("open a session by poll: %v", err)
	}
	resp.Body.Close()
	return open.Session
}

// checkUpstream waits for n messages at the upstream and checks they are
// exactly seqText(1) … seqText(n).
func (c *ackClient) checkUpstream(n int) {
	c.t.Helper()
	waitFor(c.t, "the upstream to get "+strconv.Itoa(n)+" messages", c.upstreamHas(n))
	checkSeq(c.t, c.up.receivedTexts(), n, "upstream")
}

func (c *ackClient) upstreamHas(n int) func() bool {
	return func() bool { _, _, got := c.up.stats(); return got >= n }
}

// TestWebSocketSendsAcknowledgedAcrossCuts: through the whole gateway, a
// raw client sends numbered frames on a session WebSocket, is cut (its TCP
// connection closed) mid-stream twice, and resumes each time resending
// everything not acknowledged: once on a new WebSocket, once on POST /send
// with the same seqs, then on WebSocket again. The upstream receives every
// message exactly once, in order.
func TestWebSocketSendsAcknowledgedAcrossCuts(t *testing.T) {
	up := newUpstream(t)
	g := startWholeGateway(t, "routes:\n  - path: /chat\n    upstream: {url: \""+up.url("/app")+"\"}\n")
	c := &ackClient{t: t, base: "http://" + g.addr + "/chat", up: up}
	c.id = openByPoll(t, c.base)

	// 31..60 reach the upstream, but their acks are lost in the cut.
	c.ackedThenCut(30, 60)

	// Resume on WebSocket: 31..60 again (duplicates), then new ones; cut
	// right after writing, so some may be delivered and none acknowledged.
	ws := c.dial()
	c.write(ws, c.acked+1, 90)
	cut(ws)

	// Resume on POST /send (a fallback), same seqs: one sequence space.
	for seq := c.acked + 1; seq <= 100; seq++ {
		c.post(seq)
	}

	// And back on WebSocket, resending a few that POST already delivered.
	c.acked = 95
	ws = c.dial()
	c.write(ws, 96, 120)
	c.readAcks(ws, 120)

	c.checkUpstream(120)
}

// TestWebSocketAcksBadInput: acks=1 needs format=json and a session route
// (400 bad_acks, before anything is dialled); a frame that is not a send
// frame closes the connection with a code that says why, and nothing of it
// reaches the upstream. A binary send and a send without seq (delivered,
// not acknowledged) work.
func TestWebSocketAcksBadInput(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	for _, q := range []string{"?acks=1", "?format=json&acks=yes"} {
		_, resp := dialWS(t, g.wsURL("/chat/ws"+q), nil)
		if resp == nil {
			t.Fatalf("%s: handshake accepted", q)
		}
		expectError(t, resp, http.StatusBadRequest, "bad_acks")
	}
	bg := newGateway(t, broadcastRoute(up), config.Limits{})
	_, resp := dialWS(t, bg.wsURL("/prices/ACME/ws?format=json&acks=1"), nil)
	if resp == nil {
		t.Fatal("broadcast: handshake accepted")
	}
	expectError(t, resp, http.StatusBadRequest, "bad_acks")
	if _, opened, _ := up.stats(); opened != 0 {
		t.Fatalf("refused handshakes dialled the upstream %d times", opened)
	}

	ws := mustDialWS(t, g.wsURL("/chat/ws?format=json&acks=1"), nil)
	for _, f := range []string{`{"data":"no seq"}`, `{"seq":7,"data":"AQID","binary":true}`} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(data, []byte(`{"ack":`)) {
			if string(data) != `{"ack":7}` {
				t.Fatalf("first ack %s, want {\"ack\":7} (no ack without seq)", data)
			}
			break
		}
	}
	// The ack says the gateway wrote it; the upstream reads it on its own time.
	waitFor(t, "the upstream to read 2 messages", func() bool { _, _, n := up.stats(); return n >= 2 })
	up.mu.Lock()
	got := append([][]byte(nil), up.received...)
	up.mu.Unlock()
	if len(got) != 2 || string(got[0]) != "no seq" || !bytes.Equal(got[1], []byte{1, 2, 3}) {
		t.Fatalf("upstream got %q", got)
	}

	many, _ := json.Marshal(map[string]any{"seq": 1, "messages": make([]string, 101)})
	for _, tc := range []struct {
		kind  int
		frame string
		code  int
	}{
		{websocket.TextMessage, `hello`, websocket.CloseInvalidFramePayloadData},
		{websocket.TextMessage, `{"seq":-1,"data":"x"}`, websocket.CloseInvalidFramePayloadData},
		{websocket.TextMessage, `{"seq":1.5,"data":"x"}`, websocket.CloseInvalidFramePayloadData},
		{websocket.TextMessage, `{"seq":1,"data":"x","messages":["y"]}`, websocket.CloseInvalidFramePayloadData},
		{websocket.TextMessage, `{"seq":1,"data":"!!","binary":true}`, websocket.CloseInvalidFramePayloadData},
		{websocket.TextMessage, string(many), websocket.ClosePolicyViolation},
		{websocket.BinaryMessage, `{"seq":1,"data":"x"}`, websocket.CloseUnsupportedData},
	} {
		ws := mustDialWS(t, g.wsURL("/chat/ws?format=json&acks=1"), nil)
		if err := ws.WriteMessage(tc.kind, []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		var err error
		for err == nil {
			_, _, err = ws.ReadMessage()
		}
		if !websocket.IsCloseError(err, tc.code) {
			t.Errorf("frame %.40q: %v, want close %d", tc.frame, err, tc.code)
		}
	}
	if _, _, n := up.stats(); n != 2 {
		t.Fatalf("the upstream got %d messages, want the 2 good ones", n)
	}
}

// TestClusterWebSocketAcksHopInstances: in a cluster the seq space is the
// session's, whichever instance a send reaches. The session opens on g0;
// numbered WebSocket sends go through g1 (not the owner: through the
// session's inbox), are cut without acks, go again by POST through g2 and
// by WebSocket through g0. The one upstream connection receives each
// message exactly once, in order.
func TestClusterWebSocketAcksHopInstances(t *testing.T) {
	up := newUpstream(t)
	gws := newClusterGateways(t, sessionRoute(up), 3)
	c := &ackClient{t: t, up: up}
	c.id = openByPoll(t, gws[0].srv.URL+"/chat")

	c.base = gws[1].srv.URL + "/chat"
	c.ackedThenCut(20, 40)

	c.base = gws[2].srv.URL + "/chat"
	for seq := c.acked + 1; seq <= 50; seq++ {
		c.post(seq)
	}

	c.base = gws[0].srv.URL + "/chat"
	c.acked = 45
	ws := c.dial()
	c.write(ws, 46, 70)
	c.readAcks(ws, 70)

	c.checkUpstream(70)
	if _, opened, _ := up.stats(); opened != 1 {
		t.Fatalf("%d upstream connections, want 1", opened)
	}
}
