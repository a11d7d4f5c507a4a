package rawsock_test

import (
	"net"
	"testing"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// TestEdgePollerTellsEachArrival: without any re-arming, each arrival is
// told once (bytes, more bytes after a read, EOF); removing the last
// socket ends the goroutine (goleak).
func TestEdgePollerTellsEachArrival(t *testing.T) {
	var p rawsock.EdgePoller
	ch := make(told, 4)
	fd, server, client := registered(t, &p, ch)
	var b [1]byte
	for _, s := range []string{"x", "y"} {
		if _, err := client.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		<-ch
		if _, err := server.Read(b[:]); err != nil || string(b[:]) != s {
			t.Fatalf("read %q, %v", b[:], err)
		}
	}
	client.Close()
	<-ch // EOF
	p.Remove(fd)
}

// registered is a connected pair whose server side is registered in p.
func registered(t *testing.T, p *rawsock.EdgePoller, r rawsock.Readable) (fd uintptr, server, client net.Conn) {
	t.Helper()
	fd, server, client = pair(t)
	t.Cleanup(func() { server.Close() })
	if !p.Add(fd, r) {
		t.Fatal("Add failed")
	}
	return fd, server, client
}
