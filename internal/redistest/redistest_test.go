package redistest

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/freeport"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The server answers, is gone after Stop, and answers again (empty) on the
// same address after Restart.
func TestStartStopRestart(t *testing.T) {
	s := StartServer(t)
	addr := s.Addr()
	if err := ping(addr); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	s.Stop()
	if err := ping(addr); err == nil {
		t.Fatal("server still answers after Stop")
	}
	s.Stop() // idempotent
	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("address changed: %s → %s", addr, s.Addr())
	}
	if err := ping(addr); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
	if Start(t) == addr {
		t.Fatal("a second server got the same address")
	}
}

// A port taken between the pick and redis-server's bind, by a stranger
// that even answers PING, does not pass for the server: the start tries a
// new port and the address it returns is a real, empty redis-server's.
func TestStartSurvivesATakenPort(t *testing.T) {
	pick, busy := freeport.Busy(t, func(c net.Conn) {
		for buf := make([]byte, 512); ; {
			if _, err := c.Read(buf); err != nil {
				return
			}
			_, _ = c.Write([]byte("+PONG\r\n"))
		}
	})
	pickPort = pick
	defer func() { pickPort = freeport.Pick }()
	s := StartServer(t)
	if s.Addr() == net.JoinHostPort("127.0.0.1", strconv.Itoa(busy)) {
		t.Fatalf("the server took the stranger's port %d", busy)
	}
	if got := command(t, s.Addr(), "SET k v"); got != "+OK" {
		t.Fatalf("SET through %s answered %q; want +OK from redis-server", s.Addr(), got)
	}
}

// command sends one inline command and returns the first line of the reply.
func command(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

// ping speaks just enough RESP to know a server answers.
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
