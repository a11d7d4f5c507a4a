package rawsock_test

import (
	"net"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// The poller's goroutine ends with its last socket: goleak checks it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type told chan struct{}

func (t told) Readable() { t <- struct{}{} }

// pair is a connected TCP pair: the server side's descriptor and the
// client.
func pair(t *testing.T) (fd uintptr, server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Control(func(f uintptr) { fd = f })
	return fd, server, client
}

// TestPollerTellsReadable: bytes and EOF are told; after Readable a socket
// is told again only once rearmed; removing the last socket ends the
// goroutine.
func TestPollerTellsReadable(t *testing.T) {
	var p rawsock.Poller
	fd, server, client := pair(t)
	defer server.Close()
	ch := make(told, 4)
	if !p.Add(fd, ch) {
		t.Fatal("Add failed")
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	<-ch
	p.Rearm(fd) // the byte is still unread: told again
	<-ch
	var b [1]byte
	if _, err := server.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	p.Rearm(fd)
	client.Close()
	<-ch // EOF
	p.Remove(fd)
	// A second socket after the goroutine ended starts it again.
	fd2, server2, client2 := pair(t)
	defer server2.Close()
	if !p.Add(fd2, ch) {
		t.Fatal("Add failed")
	}
	client2.Close()
	<-ch
	p.Remove(fd2)
}
