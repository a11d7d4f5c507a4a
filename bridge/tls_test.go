package bridge_test

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/bridge/internal/ssetest"
)

// TestBroadcastOverTLS: broadcast subscribers on a TLS connection
// (HTTP/1.1, so hijacked) get their messages encrypted like everything
// else: the fast paths that write or read the bare socket must never
// reach under TLS.
func TestBroadcastOverTLS(t *testing.T) {
	up := newUpstream(t)
	reg := prometheus.NewRegistry()
	rh, err := bridge.New(bridge.Deps{Logger: zap.NewNop(), Registry: reg}).NewRoute(broadcastRoute(up))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(rh)
	srv.TLS = &tls.Config{NextProtos: []string{"http/1.1"}}
	srv.StartTLS()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		_ = rh.Close(ctx)
		srv.CloseClientConnections()
		srv.Close()
	})
	g := &gateway{srv: srv, rh: rh, reg: reg, route: broadcastRoute(up)}

	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	ws, _, err := dialer.Dial("wss"+srv.URL[len("https"):]+"/prices/ACME/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	resp, err := srv.Client().Get(srv.URL + "/prices/ACME/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sse := ssetest.NewParser(resp.Body)
	sseStart(t, sse)
	waitFor(t, "subscribers", func() bool {
		return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 1 &&
			metricValue(t, g, "bridgeway_bridge_clients_connected", "sse") == 1
	})
	waitUpstream(t, up)
	up.publish("secret")

	_ = ws.SetReadDeadline(time.Now().Add(deadline))
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "secret" {
		t.Fatalf("websocket over TLS: %q %v", data, err)
	}
	ev, err := sse.Next()
	if err != nil || ev.Data != "secret" {
		t.Fatalf("sse over TLS: %+v %v", ev, err)
	}
}
