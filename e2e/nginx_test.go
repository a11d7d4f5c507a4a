package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	bin := testdeps.LookPath(t, "nginx")
	dir := t.TempDir()
	addr := freeAddr(t)
	conf := strings.NewReplacer("DIR", dir, "LISTEN", addr, "TARGET", target, "LOCATION", location).Replace(nginxConf)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, addr, bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	return &nginxProxy{URL: "http://" + addr, dir: dir}
}

// accessLog is nginx's access log so far (what it saw and answered).
func (n *nginxProxy) accessLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "access.log"))
	return string(b)
}

// startDaemon runs a proxy in the foreground until the test ends, and
// waits until it listens on addr.
func startDaemon(t *testing.T, addr, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitListening(t, addr, filepath.Base(bin))
}

// freeAddr returns a loopback address no one listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr, what string) {
	t.Helper()
	waitUntil(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, fmt.Sprintf("%s to listen on %s", what, addr))
}
