// Package redistest starts a real redis-server for tests: on a free loopback
// port, with persistence off, stopped when the test ends. Server.Stop and
// Server.Restart (same port, empty data) let tests exercise "Redis went away".
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/freeport"
	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// startTimeout bounds how long a redis-server may take to accept connections.
const startTimeout = 15 * time.Second

// pickPort picks the port of a new server; a test hands it a taken one.
var pickPort = freeport.Pick

// Server is one redis-server process owned by a test.
type Server struct {
	t    testing.TB
	bin  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
}

// Start runs a redis-server for t and returns its "127.0.0.1:port".
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).Addr()
}

// StartServer runs a redis-server for t; it is stopped by t.Cleanup.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := testdeps.LookPath(t, "redis-server")
	s := &Server{t: t, bin: bin}
	// Another process can take the port between the pick and
	// redis-server's bind: a start that meets a taken port tries new ones.
	err := freeport.Retry(pickPort, 1, func(ports []int) error {
		s.port = ports[0]
		return s.run()
	})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Addr is "127.0.0.1:port"; it stays the same across Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the address as a redis:// URL (database 0).
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Stop kills the server (data is lost: persistence is off). Idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart stops the server if it runs and starts an empty one on the same
// port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	// The old socket may linger briefly; redis-server sets SO_REUSEADDR, but
	// retry to be safe on a loaded machine.
	for attempt := 0; attempt < 10; attempt++ {
		if err = s.run(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart: %v", err)
}

// run starts redis-server on s.port and waits until it answers. It returns
// an error wrapping freeport.ErrInUse when the port is someone else's: the
// server exits saying so, or another process answers there.
func (s *Server) run() error {
	logPath := filepath.Join(s.t.TempDir(), "redis.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }() // the server holds its own copy
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--loglevel", "warning",
		"--dir", s.t.TempDir(),
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	fail := func(err error) error {
		_ = cmd.Process.Kill()
		<-exited
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for ping(s.Addr()) != nil {
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			if freeport.InUse(string(out)) {
				return fmt.Errorf("redis-server on port %d: %w", s.port, freeport.ErrInUse)
			}
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			return fail(fmt.Errorf("redis-server on port %d did not come up: %s", s.port, out))
		}
	}
	if err := freeport.Check(cmd.Process.Pid, s.port); err != nil {
		return fail(err)
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

// ping speaks just enough RESP to know the server answers (no client
// library needed here).
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}
