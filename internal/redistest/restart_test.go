package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// A port another process took after Stop fails Restart, naming the port,
// even when the stranger answers PING: the test never talks to it as its
// own server.
func TestRestartOnATakenPortFails(t *testing.T) {
	s, ln := serverWithItsPortTaken(t)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("+PONG\r\n"))
			_ = c.Close()
		}
	}()
	msg := fatalOf(t, func(tb testing.TB) { s.t = tb; s.Restart() })
	if msg == "" {
		t.Fatalf("Restart returned with a stranger on port %d", s.port)
	}
	if !strings.Contains(msg, strconv.Itoa(s.port)) || !strings.Contains(msg, "in use") {
		t.Fatalf("Restart failed with %q; want the port %d and that it is in use", msg, s.port)
	}
}

// serverWithItsPortTaken stops a server and takes its port; another
// process may take a freed port first, so it tries a few servers.
func serverWithItsPortTaken(t *testing.T) (*Server, net.Listener) {
	t.Helper()
	var err error
	for range 5 {
		s := StartServer(t)
		s.Stop()
		var ln net.Listener
		if ln, err = net.Listen("tcp", s.Addr()); err == nil {
			return s, ln
		}
	}
	t.Fatalf("five freed ports went elsewhere before the test could take them: %v", err)
	return nil, nil
}

// A restart that fails for another reason than a taken port fails at
// once, with the server's words: it is not tried again as a taken port is.
func TestRestartFailureIsNotRetried(t *testing.T) {
	s := StartServer(t)
	s.Stop()
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	s.bin = filepath.Join(dir, "redis-server")
	script := "#!/bin/sh\necho start >>" + starts + "\necho '*** FATAL CONFIG FILE ERROR (Redis 7) ***'\nexit 1\n"
	if err := os.WriteFile(s.bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	msg := fatalOf(t, func(tb testing.TB) { s.t = tb; s.Restart() })
	if !strings.Contains(msg, "FATAL CONFIG FILE ERROR") {
		t.Fatalf("Restart failed with %q; want the server's words", msg)
	}
	if b, _ := os.ReadFile(starts); strings.Count(string(b), "start") != 1 {
		t.Fatalf("the server was started %d times; want once", strings.Count(string(b), "start"))
	}
}

// fatalTB is a test's t for code that must fail it: Fatalf is kept and
// ends the calling goroutine, so that the test can look at it.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// fatalOf runs fn with a fatalTB over t in a goroutine of its own and
// returns what it failed with ("" when it returned).
func fatalOf(t *testing.T, fn func(testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}
