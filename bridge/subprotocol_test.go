package bridge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

// strictUpstream is a WebSocket app that, like a STOMP broker, refuses a
// handshake offering none of its subprotocols (400). It greets each
// connection with "proto P" and echoes text as "P:TEXT".
type strictUpstream struct {
	srv *httptest.Server

	mu     sync.Mutex
	offers []string // Sec-WebSocket-Protocol of every handshake, refused ones too
	conns  []*websocket.Conn
}

func newStrictUpstream(t *testing.T, supported ...string) *strictUpstream {
	u := &strictUpstream{}
	up := websocket.Upgrader{Subprotocols: supported}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.offers = append(u.offers, strings.Join(websocket.Subprotocols(r), ", "))
		u.mu.Unlock()
		if !slices.ContainsFunc(websocket.Subprotocols(r), func(p string) bool { return slices.Contains(supported, p) }) {
			http.Error(w, "a supported subprotocol is required", http.StatusBadRequest)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		u.mu.Lock()
		u.conns = append(u.conns, ws)
		u.mu.Unlock()
		p := ws.Subprotocol()
		if ws.WriteMessage(websocket.TextMessage, []byte("proto "+p)) != nil {
			return
		}
		for {
			_, data, err := ws.ReadMessage()
			if err != nil || ws.WriteMessage(websocket.TextMessage, []byte(p+":"+string(data))) != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		u.mu.Lock()
		for _, c := range u.conns {
			_ = c.Close()
		}
		u.mu.Unlock()
		u.srv.Close()
	})
	return u
}

func (u *strictUpstream) url() string { return "ws" + strings.TrimPrefix(u.srv.URL, "http") + "/ws" }

// offered is what every handshake so far offered, in order.
func (u *strictUpstream) offered() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.offers)
}

func stompRoute(u *strictUpstream, mode string, subprotocols ...string) config.Route {
	r := sessionRoute(&testUpstream{srv: u.srv}) // its URL is replaced below
	if mode == config.ModeBroadcast {
		r = broadcastRoute(&testUpstream{srv: u.srv})
	}
	r.Upstream = config.Upstream{URL: u.url(), Kind: config.KindWebSocket, Subprotocols: subprotocols}
	return r
}

// dialOffering dials url offering the comma-separated list offer ("" for
// none) and fails unless the handshake succeeds with answer as its subprotocol.
func dialOffering(t *testing.T, url, offer, answer string) *websocket.Conn {
	t.Helper()
	return dialOfferingWith(t, url, offer, answer, http.Header{})
}

// dialOfferingWith is dialOffering with more request headers.
func dialOfferingWith(t *testing.T, url, offer, answer string, hdr http.Header) *websocket.Conn {
	t.Helper()
	hdr = hdr.Clone()
	if offer != "" {
		hdr.Set("Sec-Websocket-Protocol", offer)
	}
	ws, resp := dialWS(t, url, hdr)
	if ws == nil {
		t.Fatalf("dial offering %q: %d", offer, resp.StatusCode)
	}
	if p := resp.Header.Get("Sec-Websocket-Protocol"); p != answer {
		t.Fatalf("client offering %q was answered subprotocol %q, want %q", offer, p, answer)
	}
	return ws
}

func readText(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(data)
}

// A client that offers nothing (SSE, or a WebSocket without a list) gets
// the route's list offered for it, and a WebSocket hears no subprotocol back.
func TestUpstreamSubprotocolsOfferedForClientsWithoutOne(t *testing.T) {
	up := newStrictUpstream(t, "v10.stomp", "v12.stomp")
	g := newGateway(t, stompRoute(up, config.ModeSession, "v12.stomp"), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	s := g.openSSE(t, ctx, "/chat/sse", nil)
	defer s.resp.Body.Close()
	s.session(t)
	if ev := s.next(t); ev.Data != "proto v12.stomp" {
		t.Fatalf("SSE got %+v, want the upstream's greeting for v12.stomp", ev)
	}

	ws := dialOffering(t, g.wsURL("/chat/ws"), "", "")
	if got := readText(t, ws); got != "proto v12.stomp" {
		t.Fatalf("WebSocket got %q", got)
	}
	if got := up.offered(); !slices.Equal(got, []string{"v12.stomp", "v12.stomp"}) {
		t.Fatalf("upstream was offered %q", got)
	}
}

// A WebSocket client's list is narrowed to the route's, in the client's
// order; the upstream's choice comes back to the client.
func TestUpstreamSubprotocolNarrowedToClientsOfferAndPassedBack(t *testing.T) {
	up := newStrictUpstream(t, "v10.stomp", "v11.stomp", "v12.stomp")
	g := newGateway(t, stompRoute(up, config.ModeSession, "v12.stomp", "v10.stomp"), config.Limits{})
	ws := dialOffering(t, g.wsURL("/chat/ws"), "v11.stomp, v12.stomp, v10.stomp", "v10.stomp")
	if got := up.offered(); !slices.Equal(got, []string{"v12.stomp, v10.stomp"}) {
		t.Fatalf("upstream was offered %q, want the client's list less v11.stomp", got)
	}
	if got := readText(t, ws); got != "proto v10.stomp" {
		t.Fatalf("got %q", got)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("CONNECT")); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, ws); got != "v10.stomp:CONNECT" {
		t.Fatalf("echo %q", got)
	}
}

// A client whose list shares nothing with the route's is refused with a
// JSON error before any upstream is dialled.
func TestNoCommonSubprotocolRefusedBeforeDial(t *testing.T) {
	up := newStrictUpstream(t, "v12.stomp", "mqtt")
	for _, mode := range []string{config.ModeSession, config.ModeBroadcast} {
		g := newGateway(t, stompRoute(up, mode, "v12.stomp"), config.Limits{})
		path := "/chat/ws"
		if mode == config.ModeBroadcast {
			path = "/prices/ACME/ws"
		}
		ws, resp := dialWS(t, g.wsURL(path), http.Header{"Sec-Websocket-Protocol": {"mqtt"}})
		if ws != nil {
			t.Fatalf("%s: handshake accepted (subprotocol %q)", mode, ws.Subprotocol())
		}
		expectError(t, resp, http.StatusBadRequest, "no_common_subprotocol")
	}
	if got := up.offered(); len(got) != 0 {
		t.Fatalf("upstream was dialled: %q", got)
	}
}

// A broadcast topic's shared upstream is offered the route's list, never
// its first subscriber's; each subscriber hears back the choice only if it
// offered it.
func TestBroadcastUpstreamOffersRouteSubprotocols(t *testing.T) {
	up := newStrictUpstream(t, "v11.stomp", "v12.stomp")
	g := newGateway(t, stompRoute(up, config.ModeBroadcast, "v12.stomp"), config.Limits{})
	first := dialOffering(t, g.wsURL("/prices/ACME/ws"), "v11.stomp, v12.stomp", "v12.stomp")
	if got := readText(t, first); got != "proto v12.stomp" {
		t.Fatalf("got %q", got)
	}
	dialOffering(t, g.wsURL("/prices/ACME/ws"), "", "")
	if got := up.offered(); !slices.Equal(got, []string{"v12.stomp"}) {
		t.Fatalf("upstream was offered %q, want the route's v12.stomp once", got)
	}
}

// A SockJS route: its raw /websocket is bridgeway's /ws (the upstream's
// choice comes back, a list sharing none is refused); its SockJS WebSocket
// offers the upstream the route's list whatever the client offered, so an
// upstream that requires one is reached.
func TestSockJSWebSocketsAndRouteSubprotocols(t *testing.T) {
	up := newStrictUpstream(t, "v12.stomp")
	route := sockjsRoute("/stomp", up.url())
	route.Upstream.Subprotocols = []string{"v12.stomp"}
	g := newGateway(t, route, config.Limits{})
	hdr := http.Header{"Origin": {testOrigin}}

	raw := dialOfferingWith(t, g.wsURL("/stomp/websocket"), "v11.stomp, v12.stomp", "v12.stomp", hdr)
	if got := readText(t, raw); got != "proto v12.stomp" {
		t.Fatalf("raw /websocket got %q", got)
	}
	hdr.Set("Sec-Websocket-Protocol", "mqtt")
	ws, resp := dialWS(t, g.wsURL("/stomp/websocket"), hdr)
	if ws != nil {
		t.Fatalf("raw /websocket offering mqtt was accepted")
	}
	expectError(t, resp, http.StatusBadRequest, "no_common_subprotocol")

	framed := dialOfferingWith(t, g.wsURL("/stomp/000/abcdefgh/websocket"), "mqtt", "", http.Header{"Origin": {testOrigin}})
	for _, want := range []string{"o", `a["proto v12.stomp"]`} {
		if got := readText(t, framed); got != want {
			t.Fatalf("SockJS WebSocket got %q, want %q", got, want)
		}
	}
	if got := up.offered(); !slices.Equal(got, []string{"v12.stomp", "v12.stomp"}) {
		t.Fatalf("upstream was offered %q", got)
	}
}
