package loadgen

import (
	"context"
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

// TestPushpinThroughGripBackend runs the generator against a real Pushpin
// in front of the bench's GRIP backend, the way bench/compare.sh does:
// SSE held as a GRIP stream, WebSocket over HTTP, publishing to Pushpin's
// control port in the pushpin format. Every subscriber must get every
// message.
func TestPushpinThroughGripBackend(t *testing.T) {
	pushpin := testdeps.LookPath(t, "pushpin")
	testdeps.LookPath(t, "condure")
	testdeps.LookPath(t, "zurl")

	grip, err := StartGripBackend("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer grip.Close()
	var ports []string
	var held *freeport.Held
	// Another process can take a port between the pick and Pushpin's bind:
	// then Pushpin starts again on new ports.
	err = freeport.Retry(freeport.Pick, 5, func(picked []int) error {
		held, err = startPushpin(t, pushpin, grip.Addr(), picked)
		ports = []string{strconv.Itoa(picked[0]), strconv.Itoa(picked[1])}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	base := "http://127.0.0.1:" + ports[0]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	waitPushpinReady(ctx, t, base)
	res, err := RunFanout(ctx, FanoutConfig{
		Dialect: DialectPlain, URL: base + "/c/{run}/{transport}",
		PublishURL: "http://127.0.0.1:" + ports[1] + "/publish/", PublishFormat: PublishPushpin,
		Subs: []SubGroup{{TransportSSE, 3}, {TransportWebSocket, 3}},
		Rate: 20, Count: 10, Settle: 500 * time.Millisecond, Drain: 30 * time.Second,
		ServerPIDs: []int{held.Pid},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 6 || res.Published != 10 || res.PublishErrors != 0 ||
		res.Delivered != 60 || res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 {
		t.Fatalf("pushpin run: %+v\nthe end of Pushpin's logs:\n%s", res, held.LogTail())
	}
	if res.ServerProcs < 4 { // the runner, condure, zurl, pushpin-proxy, pushpin-handler
		t.Errorf("measured %d pushpin processes, want the runner and its children", res.ServerProcs)
	}
}

// waitPushpinReady waits until Pushpin answers a held stream with 200
// (before its processes are wired it answers 500) and a WebSocket with
// 101: WebSocket over HTTP goes to the origin on a path of its own, and
// right after the stream was ready it once answered the test's
// WebSockets 502 "Error while proxying to origin".
func waitPushpinReady(ctx context.Context, t *testing.T, base string) {
	t.Helper()
	for _, probe := range []struct {
		path, extra string
		status      int
	}{
		{"/c/ready/sse", "", 200},
		{"/c/ready/websocket", wsUpgradeHeader, 101},
	} {
		for {
			conn, _, _, err := dialPush(ctx, nil, base+probe.path, probe.extra, probe.status)
			if err == nil {
				conn.Close()
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("pushpin never became ready for %s: %v", probe.path, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func configFromTemplate(t *testing.T, path string, vars map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k, v := range vars {
		s = strings.ReplaceAll(s, k, v)
	}
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "#") && strings.Contains(line, "@") {
			t.Fatalf("%s: a variable is left unfilled in %q", path, line)
		}
	}
	return s
}

// startPushpin runs Pushpin on ports (HTTP, publish, three ZeroMQ) in front
// of the GRIP backend at gripAddr until the test ends, and waits until its
// processes hold every port. Its error wraps freeport.ErrInUse when a port
// is someone else's.
func startPushpin(t *testing.T, pushpin, gripAddr string, picked []int) (*freeport.Held, error) {
	t.Helper()
	var ports []string
	for _, p := range picked {
		ports = append(ports, strconv.Itoa(p))
	}
	dir := t.TempDir()
	conf := configFromTemplate(t, "../configs/pushpin.conf.in", map[string]string{
		"@PREFIX@": dir, "@PUSHPIN_PORT@": ports[0], "@PUBLISH_PORT@": ports[1],
		"@ZMQ_PUSH_PORT@": ports[2], "@ZMQ_SUB_PORT@": ports[3], "@ZMQ_COMMAND_PORT@": ports[4],
	})
	routes := configFromTemplate(t, "../configs/pushpin.routes.in", map[string]string{
		"@GRIP_PORT@": strings.TrimPrefix(gripAddr, "127.0.0.1:"),
	})
	for name, text := range map[string]string{"pushpin.conf": conf, "routes": routes} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"run", "log"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	return freeport.StartHeld(t, freeport.Program{
		Cmd:   exec.Command(pushpin, "--config", filepath.Join(dir, "pushpin.conf")),
		Ports: picked, Output: filepath.Join(dir, "output.log"), Logs: []string{filepath.Join(dir, "log", "*")},
		Timeout: time.Minute, Stop: freeport.Terminate,
	})
}
