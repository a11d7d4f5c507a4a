package main

import (
	"bufio"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestPassthroughExampleOnFreePorts runs the README's pass-through example
// as written (examples/echo-upstream and examples/passthrough.yaml) on
// free ports, chosen through the variables the file documents, and makes
// the README's requests through it.
func TestPassthroughExampleOnFreePorts(t *testing.T) {
	bin := buildCommand(t, "../../examples/echo-upstream")
	upAddr := freeAddr(t)
	up := exec.Command(bin, "-listen", upAddr)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = up.Process.Signal(syscall.SIGTERM)
		_ = up.Wait()
	})
	eventually(t, "the example upstream to listen", func() bool {
		c, err := net.Dial("tcp", upAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

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

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
