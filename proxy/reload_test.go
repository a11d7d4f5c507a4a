package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestReload(t *testing.T) {
	app := startUpstream(t, "app")
	other := startUpstream(t, "other")
	first := baseYAML + "routes:\n" + route("/app", app.URL) + route("/chat", "ws://127.0.0.1:1/chat") + route("/gone", "ws://127.0.0.1:1/gone")
	s := startServer(t, first, Deps{})
	c := newClient(t)
	base := "http://" + s.Addr()
	tunnel := dialWS(t, "ws://"+s.Addr()+"/app/ws")

	if resp, _ := get(t, c, base+"/new"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/new before reload: %d", resp.StatusCode)
	}

	// /app unchanged, /chat changed, /gone removed, /new added.
	second := baseYAML + "routes:\n" + route("/app", app.URL) + route("/chat", "ws://127.0.0.1:2/chat") + route("/new", other.URL)
	if err := s.Reload(parseConfig(t, second)); err != nil {
		t.Fatalf("Reload: %v", err)
	}

	resp, body := get(t, c, base+"/new/x")
	var got echoReply
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Upstream != "other" {
		t.Fatalf("/new after reload: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, c, base+"/gone"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/gone after reload: %d", resp.StatusCode)
	}
	if _, body := get(t, c, base+"/chat"); !strings.Contains(body, "127.0.0.1:2") {
		t.Fatalf("/chat still served by the old handler: %s", body)
	}
	// The open tunnel on the unchanged route keeps going.
	assertEcho(t, tunnel, "still here")
	// Removed and changed bridged routes are closed; their replacements built.
	eventually(t, "retired routes to close", func() bool {
		_, chatClosed := s.bridge.counts("/chat")
		_, goneClosed := s.bridge.counts("/gone")
		return chatClosed == 1 && goneClosed == 1
	})
	if built, _ := s.bridge.counts("/chat"); built != 2 {
		t.Errorf("/chat built %d times, want 2", built)
	}

	// A reload that fails (a route handler cannot be built) changes nothing.
	s.bridge.mu.Lock()
	s.bridge.fail = "/broken"
	s.bridge.mu.Unlock()
	third := baseYAML + "routes:\n" + route("/broken", "ws://127.0.0.1:1/b") + route("/third", other.URL)
	if err := s.Reload(parseConfig(t, third)); err == nil {
		t.Fatal("Reload with a failing route succeeded")
	}
	if resp, _ := get(t, c, base+"/third"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/third served after a failed reload")
	}
	if resp, _ := get(t, c, base+"/new"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/new no longer served after a failed reload")
	}
	assertEcho(t, tunnel, "and still")

	_, metrics := get(t, c, "http://"+s.AdminAddr()+"/metrics")
	for _, want := range []string{
		`bridgeway_proxy_config_reloads_total{result="ok"} 1`,
		`bridgeway_proxy_config_reloads_total{result="error"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestReloadChangedPassThroughRouteClosesItsTunnels(t *testing.T) {
	a := startUpstream(t, "a")
	b := startUpstream(t, "b")
	s := startServer(t, baseYAML+"routes:\n"+route("/app", a.URL), Deps{})
	tunnel := dialWS(t, "ws://"+s.Addr()+"/app/ws")
	if err := s.Reload(parseConfig(t, baseYAML+"routes:\n"+route("/app", b.URL))); err != nil {
		t.Fatal(err)
	}
	// Documented: a changed route's handler is retired, its tunnels get
	// 1012 "route reconfigured" (a drain sends 1001).
	if err := readUntilClose(tunnel); !strings.Contains(err.Error(), "1012") || !strings.Contains(err.Error(), "route reconfigured") {
		t.Fatalf("tunnel of the changed route ended with %v, want 1012 route reconfigured", err)
	}
	_, body := get(t, newClient(t), "http://"+s.Addr()+"/app")
	var got echoReply
	if json.Unmarshal([]byte(body), &got) != nil || got.Upstream != "b" {
		t.Fatalf("changed route not serving the new upstream: %s", body)
	}
}

// TestReloadKeepsRestartOnlyLimits: the bridge builds every route, new ones
// too, with the limits it started with, so a reload that changes
// max_message_bytes or max_body_bytes says that they need a restart and the
// running config keeps describing what runs (it used to take the new values
// silently); max_connections is applied.
func TestReloadKeepsRestartOnlyLimits(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	app := startUpstream(t, "app")
	routes := "routes:\n" + route("/app", app.URL)
	s := startServer(t, baseYAML+routes, Deps{Logger: zap.New(core)})
	next := baseYAML + "limits:\n  max_message_bytes: 2MiB\n  max_body_bytes: 3MiB\n  max_batch_messages: 7\n  max_connections: 99\n" + routes
	if err := s.Reload(parseConfig(t, next)); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	warned := map[string]bool{}
	for _, e := range logs.FilterMessage("setting changed on reload needs a restart; keeping the running value").All() {
		warned[e.ContextMap()["setting"].(string)] = true
	}
	for _, name := range []string{"limits.max_message_bytes", "limits.max_body_bytes", "limits.max_batch_messages"} {
		if !warned[name] {
			t.Errorf("no restart warning for %s (warned: %v)", name, warned)
		}
	}
	if warned["limits.max_connections"] {
		t.Error("max_connections is applied on reload, yet it was said to need a restart")
	}
	s.mu.Lock()
	lim := s.cfg.Limits
	s.mu.Unlock()
	start := parseConfig(t, baseYAML+routes).Limits
	if lim.MaxMessageBytes != start.MaxMessageBytes || lim.MaxBodyBytes != start.MaxBodyBytes || lim.MaxBatchMessages != start.MaxBatchMessages {
		t.Errorf("running limits after reload: message %d, body %d, batch %d; want the start's %d, %d, %d",
			lim.MaxMessageBytes, lim.MaxBodyBytes, lim.MaxBatchMessages, start.MaxMessageBytes, start.MaxBodyBytes, start.MaxBatchMessages)
	}
	if lim.MaxConnections != 99 {
		t.Errorf("max_connections after reload: %d, want 99", lim.MaxConnections)
	}
}
