package hardening

import (
	"bufio"
	"context"
	"encoding/json"
	"github.com/bridgeway/bridgeway/internal/testdeps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	goBin := testdeps.LookPath(t, "go") // skips on a laptop without it, fails in CI
	dir := t.TempDir()
	bin := filepath.Join(dir, "bridgeway")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/bridgeway/bridgeway/cmd/bridgeway")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	app := newWSApp(t)
	cfgPath := filepath.Join(dir, "bridgeway.yaml")
	yaml := gatewayHead + "log: {level: info, format: json, access: false}\n" + loadYAML(app)
	yaml = strings.Replace(yaml, "log: {access: false}\n", "", 1)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "run", "-c", cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logMu sync.Mutex
	var logLines []string
	listening := make(chan map[string]any, 1)
	scanDone := make(chan struct{})
	go func() {
		defer close(scanDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			logLines = append(logLines, line)
			logMu.Unlock()
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "listening" {
				listening <- entry
			}
		}
	}()
	go func() {
		<-scanDone
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	var entry map[string]any
	select {
	case entry = <-listening:
	case err := <-exited:
		t.Fatalf("bridgeway exited before listening: %v\n%s", err, strings.Join(logLines, "\n"))
	case <-time.After(30 * time.Second):
		t.Fatalf("bridgeway did not start")
	}
	addr, _ := entry["http"].(string)
	admin, _ := entry["admin"].(string)
	g := &gateway{t: t, addr: addr, admin: admin, URL: "http://" + addr, stopped: true}

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
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
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

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("bridgeway exited with %v", err)
		}
	case <-time.After(time.Minute): // a hang guard; shutdown_timeout is 20s
		t.Fatalf("bridgeway did not exit after SIGTERM")
	}
	load.check(t, perKind*2)
	logMu.Lock()
	defer logMu.Unlock()
	all := strings.Join(logLines, "\n")
	for _, bad := range []string{"panic", "drain ended by its deadline", "goroutine "} {
		if strings.Contains(all, bad) {
			t.Errorf("log holds %q:\n%s", bad, all)
		}
	}
	if !strings.Contains(all, `"msg":"stopped"`) {
		t.Errorf("no stopped line in the log")
	}
}
