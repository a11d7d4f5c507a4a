//go:build unix

// Package rabbitmqtest starts a real RabbitMQ broker with its Web-STOMP
// plugin for tests: its own epmd, node name, ports and directories (never
// the system service), stopped when the test ends. Web-STOMP speaks STOMP
// over plain WebSocket only (no SockJS since RabbitMQ 3.x dropped it) and
// chooses a STOMP subprotocol (v10.stomp, v11.stomp, v12.stomp) from the
// client's offer: the broker the SockJS tests put behind the gateway.
package rabbitmqtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// serverScript is the broker's own start script. Debian's /usr/sbin wrapper
// switches to the rabbitmq user and logs to /var/log; the script it wraps
// runs the node in the foreground with the environment it is given.
const serverScript = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// startTimeout bounds the broker's boot (a few seconds on an idle machine).
const startTimeout = 90 * time.Second

// Broker is one RabbitMQ node owned by a test.
type Broker struct {
	webStompPort int
	epmd, node   *exec.Cmd
	console      string // the node's console log, for error messages
	stopOnce     sync.Once
}

// Start boots a broker for t (skipped, or failed under
// BRIDGEWAY_REQUIRE_DEPS=1, where RabbitMQ is not installed); t.Cleanup
// stops it.
func Start(t testing.TB) *Broker {
	t.Helper()
	if _, err := os.Stat(serverScript); err != nil {
		testdeps.Missing(t, "rabbitmq-server not installed ("+serverScript+")")
	}
	epmdBin := testdeps.LookPath(t, "epmd")
	ports, err := freePorts(4)
	if err != nil {
		t.Fatalf("rabbitmqtest: %v", err)
	}
	epmdPort, amqpPort, distPort, webStomp := ports[0], ports[1], ports[2], ports[3]
	dir := t.TempDir()
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\n"+
		"stomp.listeners.tcp = none\n"+
		"web_stomp.tcp.ip = 127.0.0.1\nweb_stomp.tcp.port = %d\n"+
		"loopback_users = none\n", amqpPort, webStomp)
	if err := os.WriteFile(filepath.Join(dir, "rabbitmq.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[rabbitmq_web_stomp].\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &Broker{webStompPort: webStomp, console: filepath.Join(dir, "console.log")}
	// An epmd of our own on its own port: the node does not start (and
	// leave behind) a machine-wide one on 4369.
	b.epmd = exec.Command(epmdBin, "-port", strconv.Itoa(epmdPort))
	b.epmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.epmd.Start(); err != nil {
		t.Fatalf("rabbitmqtest: start epmd: %v", err)
	}
	b.node = exec.Command(serverScript)
	b.node.Dir = dir
	b.node.Env = append(os.Environ(),
		"HOME="+dir, // the Erlang cookie
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
		"RABBITMQ_NODENAME=bwtest"+strconv.Itoa(webStomp)+"@localhost",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PLUGINS_EXPAND_DIR="+filepath.Join(dir, "plugins"),
		"RABBITMQ_LOGS=-",
	)
	console, err := os.Create(b.console)
	if err != nil {
		t.Fatal(err)
	}
	defer console.Close() // the node holds its own copy
	b.node.Stdout, b.node.Stderr = console, console
	b.node.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.node.Start(); err != nil {
		b.Stop()
		t.Fatalf("rabbitmqtest: start %s: %v", serverScript, err)
	}
	t.Cleanup(b.Stop)
	if err := b.waitReady(); err != nil {
		t.Fatalf("rabbitmqtest: %v; console: %s", err, b.consoleTail())
	}
	return b
}

// WebStompURL is the broker's STOMP-over-WebSocket endpoint.
func (b *Broker) WebStompURL() string {
	return "ws://127.0.0.1:" + strconv.Itoa(b.webStompPort) + "/ws"
}

// waitReady polls the Web-STOMP listener: it answers a plain GET with 426
// once the plugin is up.
func (b *Broker) waitReady() error {
	client := &http.Client{Timeout: 2 * time.Second}
	end := time.Now().Add(startTimeout)
	for time.Now().Before(end) {
		resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(b.webStompPort) + "/ws")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("Web-STOMP on port %d did not come up within %v", b.webStompPort, startTimeout)
}

// Stop ends the node (its whole process group: the start script and the
// Erlang VM) and then its epmd. Idempotent.
func (b *Broker) Stop() {
	b.stopOnce.Do(func() {
		for _, cmd := range []*exec.Cmd{b.node, b.epmd} {
			if cmd == nil || cmd.Process == nil {
				continue
			}
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
	})
}

// consoleTail is the end of the node's console log.
func (b *Broker) consoleTail() string {
	data, _ := os.ReadFile(b.console)
	if len(data) > 3000 {
		data = data[len(data)-3000:]
	}
	return string(data)
}

// freePorts reserves n distinct loopback ports (held together, so that they
// differ) and releases them for the broker.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
