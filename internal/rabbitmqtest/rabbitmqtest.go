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

	"github.com/bridgeway/bridgeway/internal/freeport"
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
	epmd, node   *proc
	console      string // the node's console log, for error messages
	stopOnce     sync.Once
}

// proc is a started program in a process group of its own; exited is
// closed once it has been waited for.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// pickPorts picks the broker's ports; a test hands it a taken one.
var pickPorts = freeport.Pick

// Start boots a broker for t (skipped, or failed under
// BRIDGEWAY_REQUIRE_DEPS=1, where RabbitMQ is not installed); t.Cleanup
// stops it. Another process can take a port between the pick and the
// broker's bind: a start that meets a taken port tries new ones.
func Start(t testing.TB) *Broker {
	t.Helper()
	if _, err := os.Stat(serverScript); err != nil {
		testdeps.Missing(t, "rabbitmq-server not installed ("+serverScript+")")
	}
	epmdBin := testdeps.LookPath(t, "epmd")
	var b *Broker
	err := freeport.Retry(pickPorts, 4, func(ports []int) error {
		var err error
		b, err = start(t, epmdBin, ports)
		return err
	})
	if err != nil {
		t.Fatalf("rabbitmqtest: %v", err)
	}
	t.Cleanup(b.Stop)
	return b
}

// start boots one broker on ports (Web-STOMP, AMQP, distribution, epmd) and
// waits for Web-STOMP. Its error wraps freeport.ErrInUse when a port is
// someone else's; a broker that fails is stopped.
func start(t testing.TB, epmdBin string, ports []int) (*Broker, error) {
	webStomp, amqpPort, distPort, epmdPort := ports[0], ports[1], ports[2], ports[3]
	dir := t.TempDir()
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\n"+
		"stomp.listeners.tcp = none\n"+
		"web_stomp.tcp.ip = 127.0.0.1\nweb_stomp.tcp.port = %d\n"+
		"loopback_users = none\n", amqpPort, webStomp)
	if err := os.WriteFile(filepath.Join(dir, "rabbitmq.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[rabbitmq_web_stomp].\n"), 0o644); err != nil {
		return nil, err
	}
	b := &Broker{webStompPort: webStomp, console: filepath.Join(dir, "console.log")}
	// An epmd of our own on its own port: the node does not start (and
	// leave behind) a machine-wide one on 4369.
	epmd := exec.Command(epmdBin, "-port", strconv.Itoa(epmdPort))
	var err error
	if b.epmd, err = startProc(epmd, nil); err != nil {
		return nil, fmt.Errorf("start epmd: %w", err)
	}
	if err := b.epmd.waitListening(epmdPort); err != nil {
		b.Stop()
		return nil, fmt.Errorf("epmd: %w", err)
	}
	node := exec.Command(serverScript)
	node.Dir = dir
	node.Env = append(os.Environ(),
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
		b.Stop()
		return nil, err
	}
	defer console.Close() // the node holds its own copy
	if b.node, err = startProc(node, console); err != nil {
		b.Stop()
		return nil, fmt.Errorf("start %s: %w", serverScript, err)
	}
	if err := b.waitReady(); err != nil {
		b.Stop()
		return nil, err
	}
	return b, nil
}

// startProc starts cmd in a process group of its own, its output to out.
func startProc(cmd *exec.Cmd, out *os.File) (*proc, error) {
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// waitListening waits until p accepts connections on port and holds it.
// epmd exits quietly when it cannot bind: an exit is a taken port.
func (p *proc) waitListening(port int) error {
	end := time.Now().Add(startTimeout)
	for time.Now().Before(end) {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
			_ = c.Close()
			return freeport.Check(p.cmd.Process.Pid, port)
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited on port %d: %w", port, freeport.ErrInUse)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("not listening on port %d within %v", port, startTimeout)
}

// WebStompURL is the broker's STOMP-over-WebSocket endpoint.
func (b *Broker) WebStompURL() string {
	return "ws://127.0.0.1:" + strconv.Itoa(b.webStompPort) + "/ws"
}

// waitReady polls the Web-STOMP listener: it answers a plain GET with 426
// once the plugin is up. A node that exits saying a bind failed, or a
// stranger answering there, is a taken port.
func (b *Broker) waitReady() error {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	end := time.Now().Add(startTimeout)
	for time.Now().Before(end) {
		resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(b.webStompPort) + "/ws")
		if err == nil {
			resp.Body.Close()
			return freeport.Check(b.node.cmd.Process.Pid, b.webStompPort)
		}
		select {
		case <-b.node.exited:
			if tail := b.consoleTail(); freeport.InUse(tail) {
				return fmt.Errorf("broker on Web-STOMP port %d: %w", b.webStompPort, freeport.ErrInUse)
			}
			return fmt.Errorf("broker exited during start; console: %s", b.consoleTail())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("Web-STOMP on port %d did not come up within %v; console: %s", b.webStompPort, startTimeout, b.consoleTail())
}

// Stop ends the node (its whole process group: the start script and the
// Erlang VM) and then its epmd. Idempotent.
func (b *Broker) Stop() {
	b.stopOnce.Do(func() {
		for _, p := range []*proc{b.node, b.epmd} {
			if p == nil {
				continue
			}
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.exited
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
