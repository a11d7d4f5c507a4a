// Package redistest starts a real redis-server for tests: on a free loopback
// port, with persistence off, stopped when the test ends. Server.Stop and
// Server.Restart (same port, empty data) let tests exercise "Redis went away".
package redistest

import (
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
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

	mu   sync.Mutex
	proc *freeport.Held // nil while stopped
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
	if s.proc != nil {
		s.proc.Stop()
		s.proc = nil
	}
}

// restartTries bounds how often Restart tries the port again: a process
// can hold it for a moment (a port being picked, a connection's local
// port), but one that listens there keeps it.
const restartTries = freeport.Tries

// Restart stops the server if it runs and starts an empty one on the same
// port. Another process can take the port once it is free: then the test
// fails saying so, rather than talk to a server that is not its own (the
// new server counts as up only once its own process holds the port).
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	err := s.run()
	for try := 1; try < restartTries && errors.Is(err, freeport.ErrInUse); try++ {
		time.Sleep(100 * time.Millisecond)
		err = s.run()
	}
	if errors.Is(err, freeport.ErrInUse) {
		s.t.Fatalf("redistest: restart: port %d was taken by another process after Stop (%d tries): %v", s.port, restartTries, err)
	}
	if err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// run starts redis-server on s.port and waits until it holds the port. Its
// error wraps freeport.ErrInUse when the port is someone else's: the
// server exits saying so, or another process listens there.
func (s *Server) run() error {
	proc, err := freeport.StartHeld(s.t, freeport.Program{
		Cmd: exec.Command(s.bin,
			"--port", strconv.Itoa(s.port),
			"--bind", "127.0.0.1",
			"--save", "",
			"--appendonly", "no",
			"--protected-mode", "no",
			"--daemonize", "no",
			"--loglevel", "warning",
			"--dir", s.t.TempDir(),
		),
		Ports:   []int{s.port},
		Output:  filepath.Join(s.t.TempDir(), "redis.log"),
		Timeout: startTimeout,
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	return nil
}
