package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/bridgeway/bridgeway/proxy"
)

// bridgeway health (the container's HEALTHCHECK) passes against a running
// gateway's admin /healthz and fails once nothing answers there.
func TestHealthCommandAsksTheAdminListener(t *testing.T) {
	app := upstreamServer(t, "app")
	path := writeFile(t, t.TempDir(), "gw.yaml", gatewayYAML([2]string{"/app", app.URL}))
	signals := make(chan os.Signal, 1)
	servers := make(chan *proxy.Server, 1)
	exit := make(chan int, 1)
	go func() { exit <- runGateway(path, io.Discard, signals, func(s *proxy.Server) { servers <- s }) }()
	srv := <-servers
	url := "http://" + srv.AdminAddr() + "/healthz"

	var out, errOut bytes.Buffer
	if code := run([]string{"health", "-url", url}, &out, &errOut); code != 0 || !strings.Contains(out.String(), `"ok"`) {
		t.Fatalf("healthy gateway: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	signals <- syscall.SIGTERM
	if code := <-exit; code != 0 {
		t.Fatalf("gateway exit %d", code)
	}
	errOut.Reset()
	if code := run([]string{"health", "-url", url}, io.Discard, &errOut); code != 1 || errOut.Len() == 0 {
		t.Fatalf("stopped gateway: exit %d, stderr %q; want 1 and a reason", code, errOut.String())
	}
	if code := run([]string{"health", "extra"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
}
