package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/proxy"
)

// testGateway is the assembled gateway (runGateway) on a config file, with
// its log output captured. Cleanup drains it with SIGTERM.
type testGateway struct {
	srv     *proxy.Server
	logs    *syncBuffer
	signals chan os.Signal
	exit    chan int
	path    string
}

func startGateway(t *testing.T, path string) *testGateway {
	t.Helper()
	g := &testGateway{logs: &syncBuffer{}, signals: make(chan os.Signal, 1), exit: make(chan int, 1), path: path}
	servers := make(chan *proxy.Server, 1)
	go func() { g.exit <- runGateway(path, g.logs, g.signals, func(s *proxy.Server) { servers <- s }) }()
	select {
	case g.srv = <-servers:
	case code := <-g.exit:
		t.Fatalf("gateway exited %d: %s", code, g.logs.String())
	}
	t.Cleanup(func() {
		g.signals <- syscall.SIGTERM
		select {
		case <-g.exit:
		case <-time.After(testTimeout):
			t.Error("gateway did not exit after SIGTERM")
		}
	})
	return g
}

// reload sends SIGHUP with content as the new file and waits until the
// gateway logged the outcome (reloaded or refused).
func (g *testGateway) reload(t *testing.T, content string) {
	t.Helper()
	before := g.reloadLines()
	if err := os.WriteFile(g.path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	g.signals <- syscall.SIGHUP
	eventually(t, "the reload to be logged", func() bool { return g.reloadLines() > before })
}

func (g *testGateway) reloadLines() int {
	s := g.logs.String()
	return strings.Count(s, `"msg":"config reloaded"`) + strings.Count(s, `"msg":"reload: invalid config ignored`) +
		strings.Count(s, `"msg":"reload failed`)
}

// metric is the value of the first series of name whose labels contain
// every one of labels (`key="value"`), or -1 when there is none.
func (g *testGateway) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	code, body := fetch(t, "http://"+g.srv.AdminAddr()+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	return metricIn(body, name, labels...)
}

func metricIn(body, name string, labels ...string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		series, value, ok := strings.Cut(line, "} ")
		if !ok {
			series, value, _ = strings.Cut(line, " ")
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(series, l)
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return -1
		}
		return v
	}
	return -1
}

// buildCommand builds the Go command at pkg (relative to this package)
// into a temporary directory; skipped with -short.
func buildCommand(t *testing.T, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	name := filepath.Base(pkg)
	if name == "." {
		name = "bridgeway"
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}
