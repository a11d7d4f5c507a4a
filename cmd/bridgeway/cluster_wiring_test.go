package main

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/redistest"
	"github.com/bridgeway/bridgeway/proxy"
)

// With cluster.redis set, /readyz follows Redis: 200 while it answers, 503
// while it is stopped, 200 again after it restarts.
func TestRunClusterReadiness(t *testing.T) {
	rs := redistest.StartServer(t)
	app := upstreamServer(t, "app")
	path := writeFile(t, t.TempDir(), "gw.yaml", gatewayYAML([2]string{"/app", app.URL})+"cluster:\n  redis: \""+rs.URL()+"\"\n")
	signals := make(chan os.Signal, 1)
	servers := make(chan *proxy.Server, 1)
	exit := make(chan int, 1)
	logs := &syncBuffer{}
	go func() { exit <- runGateway(path, logs, signals, func(s *proxy.Server) { servers <- s }) }()
	var srv *proxy.Server
	select {
	case srv = <-servers:
	case code := <-exit:
		t.Fatalf("gateway exited %d: %s", code, logs.String())
	}
	ready := "http://" + srv.AdminAddr() + "/readyz"
	eventually(t, "ready with Redis up", func() bool { code, _ := fetch(t, ready); return code == 200 })
	rs.Stop()
	eventually(t, "not ready with Redis down", func() bool { code, _ := fetch(t, ready); return code == 503 })
	rs.Restart()
	eventually(t, "ready again", func() bool { code, _ := fetch(t, ready); return code == 200 })
	signals <- syscall.SIGTERM
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(testTimeout):
		t.Fatal("no exit after SIGTERM")
	}
}
