package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/internal/freeport"
)

// centrifugoLike speaks what bench/compare.sh uses of Centrifugo: uni_sse
// takes its connect request in ?cf_connect=, uni_websocket as the first
// message, and each publication arrives wrapped in a JSON push. It only
// delivers to a subscriber that asked for the channel being published to.
type centrifugoLike struct {
	srv  *httptest.Server
	mu   sync.Mutex
	subs map[chan []byte]string // subscriber -> channel
}

func newCentrifugoLike() *centrifugoLike {
	c := &centrifugoLike{subs: map[chan []byte]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connection/uni_sse", c.sse)
	mux.HandleFunc("GET /connection/uni_websocket", c.ws)
	mux.HandleFunc("POST /api/publish", c.publish)
	c.srv = httptest.NewServer(mux)
	return c
}

type connectRequest struct {
	Subs map[string]struct{} `json:"subs"`
}

func oneChannel(raw []byte) (string, error) {
	var cr connectRequest
	if err := json.Unmarshal(raw, &cr); err != nil || len(cr.Subs) != 1 {
		return "", fmt.Errorf("want a connect request with one subscription, got %q", raw)
	}
	for ch := range cr.Subs {
		return ch, nil
	}
	return "", nil
}

func (c *centrifugoLike) add(ch string) chan []byte {
	out := make(chan []byte, 64)
	c.mu.Lock()
	c.subs[out] = ch
	c.mu.Unlock()
	return out
}

func (c *centrifugoLike) remove(out chan []byte) {
	c.mu.Lock()
	delete(c.subs, out)
	c.mu.Unlock()
}

func (c *centrifugoLike) sse(w http.ResponseWriter, r *http.Request) {
	ch, err := oneChannel([]byte(r.URL.Query().Get("cf_connect")))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out := c.add(ch)
	defer c.remove(out)
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, "data: {\"connect\":{\"client\":\"x\"}}\n\n")
	http.NewResponseController(w).Flush()
	for {
		select {
		case m := <-out:
			fmt.Fprintf(w, "data: %s\n\n", m)
			http.NewResponseController(w).Flush()
		case <-r.Context().Done():
			return
		}
	}
}

func (c *centrifugoLike) ws(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	_, hello, err := conn.ReadMessage()
	if err != nil {
		return
	}
	ch, err := oneChannel(hello)
	if err != nil {
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(3501, "bad request"))
		return
	}
	out := c.add(ch)
	defer c.remove(out)
	conn.WriteMessage(websocket.TextMessage, []byte(`{"connect":{"client":"x"}}`))
	gone := make(chan struct{})
	go func() { // reads until the client goes, then stops the writer
		defer close(gone)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	defer func() { conn.Close(); <-gone }()
	for {
		select {
		case m := <-out:
			if err := conn.WriteMessage(websocket.TextMessage, m); err != nil {
				return
			}
		case <-gone:
			return
		}
	}
}

func (c *centrifugoLike) publish(w http.ResponseWriter, r *http.Request) {
	var p centrifugoPublish
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.Channel == "" {
		fmt.Fprint(w, `{"error":{"code":107,"message":"bad request"}}`)
		return
	}
	push, _ := json.Marshal(map[string]any{"channel": p.Channel, "pub": map[string]any{"data": p.Data, "offset": 1}})
	c.mu.Lock()
	for out, ch := range c.subs {
		if ch == p.Channel {
			out <- push
		}
	}
	c.mu.Unlock()
	fmt.Fprint(w, `{"result":{}}`)
}

// TestPlainDialectWithConnectRequestAndJSONPushes: the plain dialect, a
// WebSocket hello, the centrifugo publish format and payloads wrapped in
// JSON, the way bench/compare.sh runs Centrifugo.
func TestPlainDialectWithConnectRequestAndJSONPushes(t *testing.T) {
	c := newCentrifugoLike()
	defer c.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := RunFanout(ctx, FanoutConfig{
		Dialect: DialectPlain,
		URL:     c.srv.URL + "/connection/uni_{transport}?cf_connect=%7B%22subs%22%3A%7B%22{run}%22%3A%7B%7D%7D%7D",
		WSHello: `{"subs":{"{run}":{}}}`, PublishURL: c.srv.URL + "/api/publish", PublishFormat: PublishCentrifugo,
		Subs: []SubGroup{{TransportSSE, 3}, {TransportWebSocket, 3}},
		Rate: 40, Count: 10, Settle: 100 * time.Millisecond, Drain: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 6 || res.PublishErrors != 0 || res.Delivered != 60 || res.Lost != 0 || res.Duplicated != 0 {
		t.Fatalf("centrifugo-like run: %+v", res)
	}
	if res.Foreign != 6 { // each subscriber's connect push is not a payload
		t.Errorf("foreign %d, want 6 (one connect push each)", res.Foreign)
	}
}

// TestCentrifugoPublishErrorIsCounted: Centrifugo refuses with 200 and an
// error object; the run must count it as a failed publish.
func TestCentrifugoPublishErrorIsCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"error":{"code":102,"message":"unknown channel"}}`)
	}))
	defer srv.Close()
	p := newHTTPPublisher(srv.URL, PublishCentrifugo, "c", 1)
	defer p.close()
	err := p.publish(context.Background(), []byte("bw1 x 1 1 "))
	if err == nil || !strings.Contains(err.Error(), "unknown channel") {
		t.Fatalf("publish error = %v, want Centrifugo's error", err)
	}
}

// TestFloorDeliversEveryMessage runs the floor program's core against the
// generator's own upstream, as compare.sh's floor rows do.
func TestFloorDeliversEveryMessage(t *testing.T) {
	var res *FanoutResult
	// The run binds the upstream port itself: another process can take it
	// after the pick, and then the run starts again on a new port.
	err := freeport.Retry(freeport.Pick, 1, func(ports []int) error {
		upstream := "127.0.0.1:" + strconv.Itoa(ports[0])
		f, err := StartFloor("127.0.0.1:0", "ws://"+upstream+"/feed")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err = RunFanout(ctx, FanoutConfig{
			URL: "http://" + f.Addr() + "/bcast", UpstreamListen: upstream,
			Subs: []SubGroup{{TransportSSE, 4}, {TransportWebSocket, 4}},
			Rate: 40, Count: 20, Settle: 100 * time.Millisecond, Drain: 20 * time.Second,
			ServerPIDs: []int{os.Getpid()},
		})
		return freeport.Mark(err)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 8 || res.Delivered != 160 || res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 || res.Foreign != 0 {
		t.Fatalf("floor run: %+v", res)
	}
}

// TestSSEChunkFraming: the floor's SSE bytes are one HTTP chunk holding
// one event, as bridgeway writes a one-line message.
func TestSSEChunkFraming(t *testing.T) {
	got := string(appendSSEChunk(nil, 12, []byte("hello")))
	body := "id: floor-12\ndata: hello\n\n"
	if want := fmt.Sprintf("%x\r\n%s\r\n", len(body), body); got != want {
		t.Fatalf("chunk %q, want %q", got, want)
	}
	if got := appendWSText(nil, make([]byte, 200)); got[0] != 0x81 || got[1] != 126 || got[2] != 0 || got[3] != 200 || len(got) != 204 {
		t.Fatalf("websocket frame head % x", got[:4])
	}
}
