//go:build linux

package freeport

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A program whose child listens is up once the child holds the port, and
// Stop ends the tree it was given: the port is free again.
func TestStartHeldWaitsForTheTree(t *testing.T) {
	ports, err := Pick(1)
	if err != nil {
		t.Fatal(err)
	}
	port := ports[0]
	cmd := exec.Command("sh", "-c", `"$0" & wait`, os.Args[0])
	cmd.Env = append(os.Environ(), "FREEPORT_TEST_LISTEN="+strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	h, err := StartHeld(t, Program{Cmd: cmd, Ports: ports, Timeout: time.Minute,
		Stop: func(p *os.Process, exited <-chan struct{}) {
			TerminateWith(exited, func(sig syscall.Signal) { _ = syscall.Kill(-p.Pid, sig) })
		}})
	if err != nil {
		t.Fatal(err)
	}
	if own, _ := HeldByItself(h.Pid, port); own {
		t.Fatalf("the shell %d holds port %d itself; the test wants its child to", h.Pid, port)
	}
	h.Stop()
	h.Stop() // idempotent
	waitFree(t, port)
}

// A program that exits saying it could not bind is a taken port; one that
// exits for another reason is not, and its words are in the error. Logs
// left by an earlier attempt are not read as this one's.
func TestStartHeldReadsWhyItExited(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "error.log")
	for _, c := range []struct {
		say    string
		inUse  bool
		output string
	}{
		{"nginx: [emerg] bind() to 127.0.0.1:1 failed (98: Address already in use)", true, ""},
		{`nginx: [emerg] unknown directive "lisen"`, false, ""},
		{"2026/01/01 [emerg] invalid port in listen", false, filepath.Join(dir, "out.log")},
	} {
		if err := os.WriteFile(stale, []byte("bind: address already in use\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "-c", `echo "$0" >&2; echo "$0" >>"$1"; exit 1`, c.say, stale)
		_, err := StartHeld(t, Program{Cmd: cmd, Ports: []int{1}, Output: c.output, Logs: []string{stale}, Timeout: time.Minute})
		if errors.Is(err, ErrInUse) != c.inUse || err == nil {
			t.Errorf("%q: %v; want ErrInUse %v", c.say, err, c.inUse)
		}
		if !c.inUse && (err == nil || !strings.Contains(err.Error(), c.say)) {
			t.Errorf("%q: the error %v does not say why", c.say, err)
		}
	}
}

// A port another process listens on is taken even while the program has
// not given up on it yet.
func TestStartHeldTakesAStrangersPortForTaken(t *testing.T) {
	port := listen(t)
	if _, err := StartHeld(t, Program{Cmd: exec.Command("sleep", "600"), Ports: []int{port}, Timeout: time.Hour}); !errors.Is(err, ErrInUse) {
		t.Fatalf("start on a stranger's port %d: %v; want ErrInUse", port, err)
	}
}

// waitFree waits until port can be listened on again.
func waitFree(t *testing.T, port int) {
	t.Helper()
	for end := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			_ = ln.Close()
			return
		}
		if time.Now().After(end) {
			t.Fatalf("port %d is still taken after Stop: %v", port, err)
		}
	}
}
