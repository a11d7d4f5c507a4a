package freeport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// TestMain: with FREEPORT_TEST_HOLD=1 the test binary is a child that
// listens on a port, prints it and holds it until its stdin closes; with
// FREEPORT_TEST_LISTEN=port it listens on that port until it is killed,
// or says why it cannot.
func TestMain(m *testing.M) {
	if port := os.Getenv("FREEPORT_TEST_LISTEN"); port != "" {
		if _, err := net.Listen("tcp", "127.0.0.1:"+port); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		select {}
	}
	if os.Getenv("FREEPORT_TEST_HOLD") == "1" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Exit(1)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// HeldBy tells this process's listener from another process's.
func TestHeldByTellsWhoListens(t *testing.T) {
	port := listen(t)
	if ours, err := HeldBy(os.Getpid(), port); err != nil || !ours {
		t.Fatalf("HeldBy(self, %d) = %v, %v; want true", port, ours, err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	if ours, err := HeldBy(sleeper.Process.Pid, port); err != nil || ours {
		t.Fatalf("HeldBy(another process, %d) = %v, %v; want false", port, ours, err)
	}
	// A child's listener is its parent's family's, not the parent's own.
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "FREEPORT_TEST_HOLD=1")
	hold, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hold.Close(); _ = child.Wait() }()
	var childPort int
	if _, err := fmt.Fscan(out, &childPort); err != nil {
		t.Fatal(err)
	}
	if ours, err := HeldBy(os.Getpid(), childPort); err != nil || !ours {
		t.Errorf("HeldBy(self, child's port) = %v, %v; want true", ours, err)
	}
	if own, err := HeldByItself(os.Getpid(), childPort); err != nil || own {
		t.Errorf("HeldByItself(self, child's port) = %v, %v; want false", own, err)
	}
}

// listen takes a loopback port for this test process until the test ends.
func listen(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// Retry gives up after Tries sets of taken ports, and passes other errors
// through at once.
func TestRetryIsBounded(t *testing.T) {
	calls := 0
	err := Retry(Pick, 1, func([]int) error { calls++; return ErrInUse })
	if !errors.Is(err, ErrInUse) || calls != Tries {
		t.Fatalf("all taken: %v after %d calls; want ErrInUse after %d", err, calls, Tries)
	}
	calls = 0
	other := errors.New("boom")
	if err := Retry(Pick, 1, func([]int) error { calls++; return other }); err != other || calls != 1 {
		t.Fatalf("other error: %v after %d calls", err, calls)
	}
}

// Busy's first set starts with its taken port, the next is free.
func TestBusyTakesTheFirstPort(t *testing.T) {
	pick, busy := Busy(t, nil)
	first, err := pick(2)
	if err != nil || first[0] != busy || len(first) != 2 {
		t.Fatalf("first pick %v, %v; want [%d, x]", first, err, busy)
	}
	if _, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(busy)); err == nil {
		t.Fatalf("port %d is not taken", busy)
	}
	second, err := pick(1)
	if err != nil || second[0] == busy {
		t.Fatalf("second pick %v, %v", second, err)
	}
}

// A Refusing address refuses connections, and its port cannot be taken
// while the test runs.
func TestRefusingHoldsItsPort(t *testing.T) {
	addr := Refusing(t)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("a connection to %s was accepted", addr)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("another listener took %s", addr)
	}
}

// TestInUseReadsEachProgramsWords: the bind failures seen from the
// programs the tests start are recognised, RabbitMQ's distribution port
// among them (a broker failed CI that way and was not retried); other
// failures are not.
func TestInUseReadsEachProgramsWords(t *testing.T) {
	for out, want := range map[string]bool{
		"# Warning: Could not create server TCP listening socket 127.0.0.1:6379: bind: Address already in use": true,
		"listen tcp 127.0.0.1:14000: bind: address already in use":                                             true,
		"{listen_error,eaddrinuse}": true,
		`{failed_to_start_child,prelaunch,{dist_port_already_used,46425,not_erlang,"localhost"}}`:         true,
		"epmd: Sat Dec  5 05:49:52 2026: there is already a epmd running at port 38565 on ipaddr 0.0.0.0": true,
		"nginx: [emerg] unknown directive \"lisen\"":                                                      false,
		"permission denied": false,
	} {
		if got := InUse(out); got != want {
			t.Errorf("InUse(%q) = %v, want %v", out, got, want)
		}
	}
}
