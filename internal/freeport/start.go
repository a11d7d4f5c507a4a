package freeport

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Program is one start of a program that binds its ports itself, for
// StartHeld.
type Program struct {
	// Cmd is the program, not started yet.
	Cmd *exec.Cmd
	// Ports are the ports the program, or a process it starts, must
	// listen on before it counts as up.
	Ports []int
	// Output, when set, is a file made for the program's stdout and
	// stderr; it is read like Logs.
	Output string
	// Logs are files or glob patterns (a log folder) where the program
	// says why it stopped: a failed bind there makes the start's error
	// wrap ErrInUse, and their end goes into any other error. They are
	// removed before the program starts, so that an earlier attempt's
	// failed bind is not read as this one's.
	Logs []string
	// Timeout bounds how long the program may take to hold its ports.
	Timeout time.Duration
	// Stop ends the program (exited is closed once it has); Held.Stop
	// waits for the exit after it. Nil kills the process; Terminate lets
	// it end its children first.
	Stop func(p *os.Process, exited <-chan struct{})
}

// Held is a program StartHeld started, holding its ports until Stop.
type Held struct {
	Pid    int
	stop   func(*os.Process, <-chan struct{})
	proc   *os.Process
	exited chan struct{}
	once   sync.Once
	logs   []string
}

// LogTail is the end of the program's output and logs: for a test that
// fails after the program started.
func (h *Held) LogTail() string { return string(tail(readLogs(h.logs))) }

// StartHeld starts p and waits until its process, or one it started,
// listens on every port. It fails, with the end of the program's logs,
// when the program exits first or takes longer than p.Timeout; the error
// wraps ErrInUse when a port is someone else's (the program said it could
// not bind, or another process listens there), so that Retry tries new
// ports. A program that fails is stopped; one that starts is stopped when
// t ends, or by Held.Stop.
func StartHeld(t testing.TB, p Program) (*Held, error) {
	t.Helper()
	logs := p.Logs
	if p.Output != "" {
		logs = append([]string{p.Output}, logs...)
	}
	for _, path := range logFiles(logs) {
		_ = os.Remove(path)
	}
	if p.Output != "" {
		out, err := os.Create(p.Output)
		if err != nil {
			return nil, err
		}
		defer func() { _ = out.Close() }() // the program holds its own copy
		p.Cmd.Stdout, p.Cmd.Stderr = out, out
	}
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.Cmd.Path, err)
	}
	h := &Held{Pid: p.Cmd.Process.Pid, stop: p.Stop, proc: p.Cmd.Process, exited: make(chan struct{}), logs: logs}
	go func() { _ = p.Cmd.Wait(); close(h.exited) }()
	if err := waitHeld(h.Pid, p.Ports, h.exited, p.Timeout, logs); err != nil {
		h.Stop()
		return nil, fmt.Errorf("%s: %w", filepath.Base(p.Cmd.Path), err)
	}
	t.Cleanup(h.Stop)
	return h, nil
}

// Stop ends the program and returns once it has exited. Idempotent.
func (h *Held) Stop() {
	h.once.Do(func() {
		if h.stop != nil {
			h.stop(h.proc, h.exited)
		} else {
			_ = h.proc.Kill()
		}
		<-h.exited
	})
}

// StopGrace is how long Terminate lets a program end before it kills it.
const StopGrace = 15 * time.Second

// Terminate is a Program.Stop for a program that must end its children
// itself (killed, it would leave them holding its ports): SIGTERM, then
// SIGKILL if it is still there after StopGrace.
func Terminate(p *os.Process, exited <-chan struct{}) {
	TerminateWith(exited, func(sig syscall.Signal) { _ = p.Signal(sig) })
}

// TerminateWith is Terminate through send, which may signal more than the
// process (its process group).
func TerminateWith(exited <-chan struct{}, send func(syscall.Signal)) {
	send(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(StopGrace):
		send(syscall.SIGKILL)
	}
}
