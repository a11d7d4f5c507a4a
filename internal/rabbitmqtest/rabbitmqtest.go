//go:build unix

package rabbitmqtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	epmd, node   *freeport.Held
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
	b := &Broker{webStompPort: webStomp}
	// An epmd of our own on its own port: the node does not start (and
	// leave behind) a machine-wide one on 4369. Without -d it exits
	// silently when its port is taken; with it, it says so.
	var err error
	b.epmd, err = startProc(t, exec.Command(epmdBin, "-d", "-port", strconv.Itoa(epmdPort)), epmdPort, filepath.Join(dir, "epmd.log"))
	if err != nil {
		return nil, err
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
	// The Web-STOMP listener is the plugin's, started last: held by the
	// node's Erlang VM, it is ready.
	if b.node, err = startProc(t, node, webStomp, filepath.Join(dir, "console.log")); err != nil {
		b.Stop()
		return nil, err
	}
	return b, nil
}

// startProc starts cmd in a process group of its own, its output to
// output, and waits until it (the start script's Erlang VM, for the node)
// holds port.
func startProc(t testing.TB, cmd *exec.Cmd, port int, output string) (*freeport.Held, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return freeport.StartHeld(t, freeport.Program{Cmd: cmd, Ports: []int{port}, Output: output, Timeout: startTimeout,
		Stop: func(p *os.Process, exited <-chan struct{}) {
			// The whole group: the start script and the Erlang VM.
			freeport.TerminateWith(exited, func(sig syscall.Signal) { _ = syscall.Kill(-p.Pid, sig) })
		}})
}

// WebStompURL is the broker's STOMP-over-WebSocket endpoint.
func (b *Broker) WebStompURL() string {
	return "ws://127.0.0.1:" + strconv.Itoa(b.webStompPort) + "/ws"
}

// Stop ends the node (its whole process group) and then its epmd.
// Idempotent.
func (b *Broker) Stop() {
	for _, p := range []*freeport.Held{b.node, b.epmd} {
		if p != nil {
			p.Stop()
		}
	}
}
