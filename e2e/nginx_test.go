package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/freeport"
	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// nginxProxy is Debian's nginx started by a test with its own config, as a
// reverse proxy in front of the gateway.
type nginxProxy struct {
	URL string
	dir string
}

// nginxConf runs one foreground nginx process in dir; LOCATION is the
// proxy_pass block's extra directives.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid DIR/nginx.pid;
error_log DIR/error.log info;
events { worker_connections 256; }
http {
  access_log DIR/access.log;
  client_body_temp_path DIR/body;
  proxy_temp_path DIR/proxy;
  fastcgi_temp_path DIR/fastcgi;
  uwsgi_temp_path DIR/uwsgi;
  scgi_temp_path DIR/scgi;
  server {
    listen LISTEN;
    location / {
      proxy_pass TARGET;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host; # the page's origin is nginx's
      proxy_read_timeout 300s;
LOCATION
    }
  }
}
`

// startNginx runs nginx in front of target with the given location
// directives; it is stopped when the test ends.
func startNginx(t *testing.T, target, location string) *nginxProxy {
	t.Helper()
	return startNginxMain(t, target, location, "master_process off;")
}

// startNginxMain is startNginx with main-context directives of its own in
// place of "master_process off;".
func startNginxMain(t *testing.T, target, location, main string) *nginxProxy {
	t.Helper()
	bin := testdeps.LookPath(t, "nginx")
	dir := t.TempDir()
	errorLog := filepath.Join(dir, "error.log")
	addr := startDaemon(t, bin, func(addr string) ([]string, string) {
		conf := strings.NewReplacer("DIR", dir, "LISTEN", addr, "TARGET", target, "LOCATION", location,
			"master_process off;", main).Replace(nginxConf)
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{"-p", dir, "-c", path, "-e", errorLog}, errorLog
	})
	return &nginxProxy{URL: "http://" + addr, dir: dir}
}

// accessLog is nginx's access log so far (what it saw and answered).
func (n *nginxProxy) accessLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "access.log"))
	return string(b)
}

// errorLog is nginx's error log so far (reloads, workers leaving).
func (n *nginxProxy) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

// pickDaemonPort picks a proxy's port; a test hands it a taken one.
var pickDaemonPort = freeport.Pick

// startDaemon runs a proxy in the foreground until the test ends on a
// loopback address of its own, which it returns once the proxy listens
// there. setup writes the config for addr and returns the arguments and the
// log that tells a failed bind: another process can take the port between
// the pick and the proxy's bind, and then a new port is tried.
func startDaemon(t *testing.T, bin string, setup func(addr string) (args []string, log string)) string {
	t.Helper()
	var addr string
	err := freeport.Retry(pickDaemonPort, 1, func(ports []int) error {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		args, log := setup(addr)
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		_, err := freeport.StartHeld(t, freeport.Program{Cmd: cmd, Ports: ports, Logs: []string{log}, Timeout: deadline})
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(bin), err)
	}
	return addr
}

// startReloadingNginx runs nginx with a master process, so it can be
// reloaded (reload): each reload starts new workers and gives the old ones
// worker_shutdown_timeout (1 s) before they close what is still open
// (WebSockets, held polls), as a production nginx reloading under load
// does. WebSocket upgrades pass.
func startReloadingNginx(t *testing.T, target string) *nginxProxy {
	t.Helper()
	n := startNginxMain(t, target, `      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $http_connection;`,
		"master_process on;\nuser root; # ignored unless run as root\nworker_shutdown_timeout 1s;")
	// Before startDaemon's kill: a killed master would leave its workers.
	t.Cleanup(func() {
		if pid := n.masterPID(t); pid > 0 {
			_ = signalPID(pid, syscall.SIGTERM)
			waitUntil(t, func() bool { _, err := os.Stat(filepath.Join(n.dir, "nginx.pid")); return err != nil }, "nginx to stop")
		}
	})
	return n
}

// signalPID sends sig to the process pid (os rather than syscall.Kill, so
// the package's tests also build for Windows, where nginx is not tested).
func signalPID(pid int, sig os.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(sig)
}

func (n *nginxProxy) masterPID(t *testing.T) int {
	b, err := os.ReadFile(filepath.Join(n.dir, "nginx.pid"))
	if err != nil {
		return 0
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil {
		t.Errorf("nginx.pid: %v", err)
	}
	return pid
}

// reloadEvery reloads n (SIGHUP to its master) every period until the
// returned stop is called, or the test ends.
func (n *nginxProxy) reloadEvery(t *testing.T, period time.Duration) (stop func()) {
	t.Helper()
	pid := n.masterPID(t)
	if pid <= 0 {
		t.Fatal("nginx wrote no master pid") // kill(0) would signal our own group
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				if err := signalPID(pid, syscall.SIGHUP); err != nil {
					t.Errorf("reload nginx: %v", err)
					return
				}
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); <-done }) }
	t.Cleanup(stop)
	return stop
}
