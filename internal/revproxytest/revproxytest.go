// Package revproxytest starts Debian's nginx or HAProxy in front of a test
// gateway, with the configuration docs/operations.md gives ("Behind nginx /
// HAProxy / an ingress"), in the foreground, killed when the test ends. A
// missing program skips the test, or fails it with BRIDGEWAY_REQUIRE_DEPS=1.
package revproxytest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/freeport"
	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// startTimeout bounds how long a proxy may take to accept connections.
const startTimeout = 15 * time.Second

// Options place a proxy.
type Options struct {
	// ListenIP is the loopback address the proxy listens on (a free port
	// is picked).
	ListenIP string
	// Gateway is the gateway's host:port.
	Gateway string
	// BindFrom is the address the proxy connects to the gateway from, so
	// the gateway can tell it from the clients ("" = the system's choice).
	BindFrom string
	// Pages are served by the proxy itself, path → HTML, like an
	// application's pages next to the gateway on one site.
	Pages map[string]string
	// Timeout replaces HAProxy's client, server and tunnel timeouts (0 =
	// the docs' 1h), so a test can make HAProxy cut idle WebSockets,
	// streams and held polls.
	Timeout time.Duration
}

// Nginx starts nginx with the docs' location block and returns its
// address. Host is left at nginx's default ($proxy_host: the gateway's
// address).
func Nginx(t testing.TB, o Options) string {
	addr, _ := start(t, "nginx", nginxConf, o, func(dir, file string) []string {
		return []string{"-p", dir, "-c", file}
	})
	return addr
}

// HAProxy starts HAProxy with the docs' frontend and backend and returns
// its address.
func HAProxy(t testing.TB, o Options) string {
	addr, _ := HAProxyLogged(t, o)
	return addr
}

// HAProxyLogged is HAProxy that also returns its log so far: one line per
// request in HAProxy's httplog format, with its termination state.
func HAProxyLogged(t testing.TB, o Options) (addr string, log func() string) {
	addr, dir := start(t, "haproxy", haproxyConf, o, func(_, file string) []string {
		return []string{"-db", "-f", file}
	})
	return addr, func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "output.log"))
		return string(b)
	}
}

// pickPort picks a proxy's port; a test hands it a taken one.
var pickPort = freeport.Pick

// start runs program with conf filled in on a port of its own. Another
// process can take the port between the pick and the proxy's bind: then a
// new port is tried.
func start(t testing.TB, program, conf string, o Options, args func(dir, file string) []string) (listen, dir string) {
	t.Helper()
	path := testdeps.LookPath(t, program, "/usr/sbin/"+program)
	err := freeport.Retry(pickPort, 1, func(ports []int) error {
		listen = net.JoinHostPort(o.ListenIP, strconv.Itoa(ports[0]))
		dir = t.TempDir()
		return run(t, path, program, conf, o, listen, ports[0], dir, args)
	})
	if err != nil {
		t.Fatalf("%s: %v", program, err)
	}
	return listen, dir
}

// run starts one proxy on listen (port is its port) and waits until it
// holds the port; its error wraps freeport.ErrInUse when the port is
// someone else's.
func run(t testing.TB, path, program, conf string, o Options, listen string, port int, dir string, args func(dir, file string) []string) error {
	timeout := "1h"
	if o.Timeout > 0 {
		timeout = fmt.Sprintf("%dms", o.Timeout.Milliseconds())
	}
	conf = strings.NewReplacer("{{DIR}}", dir, "{{LISTEN}}", listen, "{{GATEWAY}}", o.Gateway, "{{TIMEOUT}}", timeout,
		"{{BIND}}", bindLine(program, o.BindFrom), "{{PAGES}}", pages(t, program, dir, o.Pages)).Replace(conf)
	file := filepath.Join(dir, program+".conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		return err
	}
	_, err := freeport.StartHeld(t, freeport.Program{
		Cmd: exec.Command(path, args(dir, file)...), Ports: []int{port},
		Output: filepath.Join(dir, "output.log"), Timeout: startTimeout,
	})
	return err
}

func bindLine(program, from string) string {
	switch {
	case from == "":
		return ""
	case program == "nginx":
		return "proxy_bind " + from + ";"
	default:
		return "source " + from
	}
}

// pages writes the pages under dir/pages and returns nginx locations or
// HAProxy frontend rules that serve them.
func pages(t testing.TB, program, dir string, pages map[string]string) string {
	var b strings.Builder
	for path, html := range pages {
		file := filepath.Join(dir, "pages", filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
		if program == "nginx" {
			b.WriteString("    location = " + path + " { root " + filepath.Join(dir, "pages") + "; default_type text/html; }\n")
			continue
		}
		b.WriteString("  http-request return status 200 content-type \"text/html; charset=utf-8\" file " + file + " if { path " + path + " }\n")
	}
	return b.String()
}
