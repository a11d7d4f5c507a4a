package main

import (
	"bufio"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/internal/freeport"
)

// TestPassthroughExampleOnFreePorts runs the README's pass-through example
// as written (examples/echo-upstream and examples/passthrough.yaml) on
// free ports, chosen through the variables the file documents, and makes
// the README's requests through it.
func TestPassthroughExampleOnFreePorts(t *testing.T) {
	bin := buildCommand(t, "../../examples/echo-upstream")
	upAddr := startExampleUpstream(t, bin)
	t.Setenv("UPSTREAM", "http://"+upAddr)
	t.Setenv("LISTEN", "127.0.0.1:0")
	t.Setenv("ADMIN_LISTEN", "127.0.0.1:0")
	g := startGateway(t, "../../examples/passthrough.yaml")
	base := "http://" + g.srv.Addr()

	if code, body := fetch(t, base+"/echo?hello=world"); code != 200 || !strings.Contains(body, "hello=world") {
		t.Fatalf("/echo through the example: %d %q", code, body)
	}
	resp, err := (&http.Client{Timeout: testTimeout}).Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "data:") {
	}
	if !strings.HasPrefix(sc.Text(), "data:") {
		t.Fatalf("/events: no SSE event (%v)", sc.Err())
	}
	if got := g.metric(t, "bridgeway_proxy_requests_total", `route="/"`, `code="200"`); got < 1 {
		t.Fatalf("metrics on the admin listener: requests_total = %v", got)
	}
}

// startExampleUpstream runs the example upstream until the test ends and
// returns its address once it listens. Another process can take the port
// between the pick and the upstream's bind: then a new port is tried.
func startExampleUpstream(t *testing.T, bin string) string {
	t.Helper()
	var addr string
	err := freeport.Retry(freeport.Pick, 1, func(ports []int) error {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		_, err := freeport.StartHeld(t, freeport.Program{
			Cmd: exec.Command(bin, "-listen", addr), Ports: ports,
			Output: filepath.Join(t.TempDir(), "upstream.log"), Timeout: testTimeout,
			Stop: freeport.Terminate,
		})
		return err
	})
	if err != nil {
		t.Fatalf("example upstream: %v", err)
	}
	return addr
}
