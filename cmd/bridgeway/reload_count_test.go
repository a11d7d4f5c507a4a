package main

import (
	"testing"
)

// TestInvalidReloadIsCounted: a SIGHUP with a file that does not load is
// counted as result="error" (it used to be logged only), and a good one as
// result="ok".
func TestInvalidReloadIsCounted(t *testing.T) {
	app := upstreamServer(t, "app")
	good := gatewayYAML([2]string{"/app", app.URL})
	g := startGateway(t, writeFile(t, t.TempDir(), "gw.yaml", good))

	g.reload(t, "routes: [oops\n")
	// reload waits for the log line, which run writes before it counts
	// the rejected file: wait for the count, then check it is exactly one.
	eventually(t, `the invalid reload to be counted`, func() bool {
		return g.metric(t, "bridgeway_proxy_config_reloads_total", `result="error"`) >= 1
	})
	if got := g.metric(t, "bridgeway_proxy_config_reloads_total", `result="error"`); got != 1 {
		t.Fatalf(`config_reloads_total{result="error"} = %v after an invalid file, want 1`, got)
	}
	g.reload(t, good)
	if got := g.metric(t, "bridgeway_proxy_config_reloads_total", `result="ok"`); got != 1 {
		t.Fatalf(`config_reloads_total{result="ok"} = %v, want 1`, got)
	}
}
