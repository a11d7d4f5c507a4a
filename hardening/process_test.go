package hardening

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMUnderLoadProcess builds the real bridgeway binary, runs it on
// a config file and puts 400 clients on it over every streaming transport.
// SIGHUP with a new route in the file: the route serves and no client is
// cut. SIGTERM: every client gets its farewell, the process logs no panic
// and exits 0 on its own (a forced drain would log "drain ended by its
// deadline").
func TestSIGTERMUnderLoadProcess(t *testing.T) {
	t.Parallel() // long waits; overlaps the other slow tests, after the soak
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBridgeway(t)
	dir := t.TempDir()
	app := newWSApp(t)
	cfgPath := filepath.Join(dir, "bridgeway.yaml")
	yaml := gatewayHead + "log: {level: info, format: json, access: false}\n" + loadYAML(app)
	yaml = strings.Replace(yaml, "log: {access: false}\n", "", 1)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	p := startBinary(t, nil, bin, cfgPath)
	g, addr := p.gateway, p.addr

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const perKind = 50 // x 4 transports x 2 routes = 400 clients
	load := startLoad(ctx, addr, perKind)
	eventually(t, "every client attached", func() bool {
		return g.metric("bridgeway_bridge_clients_connected") == perKind*8
	})
	// SIGHUP with a new route: the route serves, nobody is cut.
	if err := os.WriteFile(cfgPath, []byte(yaml+"  - path: /new\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload", func() bool {
		return g.metric("bridgeway_proxy_config_reloads_total", `result="ok"`) == 1
	})
	if a := get(t, g.URL+"/new/poll", nil); a.status != 200 {
		t.Errorf("new route after SIGHUP: %d %s", a.status, a.body)
	}
	if n := g.metric("bridgeway_bridge_clients_connected"); n != perKind*8 {
		t.Errorf("clients after SIGHUP %v, want %d", n, perKind*8)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("bridgeway exited with %v", p.err)
		}
	case <-time.After(time.Minute): // a hang guard; shutdown_timeout is 20s
		t.Fatalf("bridgeway did not exit after SIGTERM")
	}
	load.check(t, perKind*2)
	all := p.log()
	for _, bad := range []string{"panic", "drain ended by its deadline", "goroutine "} {
		if strings.Contains(all, bad) {
			t.Errorf("log holds %q:\n%s", bad, all)
		}
	}
	if !strings.Contains(all, `"msg":"stopped"`) {
		t.Errorf("no stopped line in the log")
	}
}
