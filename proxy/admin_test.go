package proxy

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

func TestAdminHealthReadyAndMetrics(t *testing.T) {
	up := startUpstream(t, "app")
	s := startServer(t, baseYAML+"routes:\n"+route("/app", up.URL)+route("/chat", "ws://127.0.0.1:1/chat"), Deps{})
	c := newClient(t)
	admin := "http://" + s.AdminAddr()

	resp, body := get(t, c, admin+"/healthz")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, c, admin+"/readyz")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, c, admin+"/nope")
	if resp.StatusCode != http.StatusNotFound || decodeError(t, body) != "not_found" {
		t.Fatalf("unknown admin path: %d %s", resp.StatusCode, body)
	}

	_, before := get(t, c, admin+"/metrics")
	if strings.Contains(before, `bridgeway_proxy_requests_total{code="200",route="/app"}`) {
		t.Fatalf("metrics count /app before any request")
	}
	for range 3 {
		get(t, c, "http://"+s.Addr()+"/app/x")
	}
	get(t, c, "http://"+s.Addr()+"/missing")
	get(t, c, "http://"+s.Addr()+"/chat/sse")

	resp, after := get(t, c, admin+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`bridgeway_proxy_requests_total{code="200",route="/app"} 3`,
		`bridgeway_proxy_requests_total{code="404",route="none"} 1`,
		`bridgeway_proxy_requests_total{code="200",route="/chat"} 1`,
		`bridgeway_proxy_request_duration_seconds_count{route="/app"} 3`,
		`bridgeway_proxy_active_connections{kind="http",route="/app"} 0`,
		`bridgeway_proxy_active_connections{kind="bridged",route="/chat"} 0`,
		`go_goroutines`,
		`process_`,
		`bridgeway_proxy_open_connections`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestAdminOff(t *testing.T) {
	s := startServer(t, `
listen: "127.0.0.1:0"
admin:
  listen: ""
routes:
`+route("/chat", "ws://127.0.0.1:1/chat"), Deps{})
	if s.AdminAddr() != "" {
		t.Fatalf("admin listener bound at %s though turned off", s.AdminAddr())
	}
}

// gaugeValue reads one series of a gauge vector from the registry.
func gaugeValue(t *testing.T, s *testServer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := s.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelsMatch(m, labels) {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func TestAdminPprofOnlyWhenAsked(t *testing.T) {
	c := newClient(t)
	off := startServer(t, baseYAML+"routes:\n"+route("/chat", "ws://127.0.0.1:1/chat"), Deps{})
	resp, body := get(t, c, "http://"+off.AdminAddr()+"/debug/pprof/")
	if resp.StatusCode != http.StatusNotFound || decodeError(t, body) != "not_found" {
		t.Fatalf("pprof served without admin.pprof: %d %s", resp.StatusCode, body)
	}

	on := startServer(t, `
listen: "127.0.0.1:0"
admin:
  listen: "127.0.0.1:0"
  pprof: true
routes:
`+route("/chat", "ws://127.0.0.1:1/chat"), Deps{})
	resp, body = get(t, c, "http://"+on.AdminAddr()+"/debug/pprof/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof index: %d %.200s", resp.StatusCode, body)
	}
	resp, body = get(t, c, "http://"+on.AdminAddr()+"/debug/pprof/heap?debug=1")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "HeapAlloc") {
		t.Fatalf("pprof heap: %d %.200s", resp.StatusCode, body)
	}
}
