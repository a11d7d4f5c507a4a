//go:build amd64 || arm64

package rawsock_test

import (
	"maps"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// TestDetachAttachRestoresTheRuntimesEntry: Detach takes a socket out of
// every epoll set it was in (the runtime's), Attach puts back the very
// entry the kernel showed before (flags and data, read from
// /proc/self/fdinfo), and the runtime then reads from it as before, bytes
// that came while it was out included.
func TestDetachAttachRestoresTheRuntimesEntry(t *testing.T) {
	if !rawsock.Detachable() {
		t.Fatal("the runtime's epoll entries are not the ones netpoll_detach_linux.go rebuilds: a Go release changed them")
	}
	fd, server, client := pair(t)
	defer server.Close()
	defer client.Close()
	rc, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	e, ok := rawsock.NetpollEntryOf(rc)
	if !ok {
		t.Fatal("no entry for an accepted TCP connection")
	}
	before := rawsock.EpollEntries(int(fd))
	if len(before) != 1 {
		t.Fatalf("the socket is in %d epoll sets, want the runtime's alone: %v", len(before), before)
	}
	if err := rawsock.Detach(e); err != nil {
		t.Fatal(err)
	}
	if got := rawsock.EpollEntries(int(fd)); len(got) != 0 {
		t.Fatalf("after Detach the socket is still in an epoll set: %v", got)
	}
	if _, err := client.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := rawsock.Attach(e); err != nil {
		t.Fatal(err)
	}
	if after := rawsock.EpollEntries(int(fd)); !maps.Equal(after, before) {
		t.Fatalf("after Attach the entry is %v, was %v", after, before)
	}
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second)) // fail, not hang
	got := make([]byte, 2)
	read := make(chan error, 1)
	go func() {
		_, err := server.Read(got[:1]) // the byte that came while detached
		if err == nil {
			_, err = server.Read(got[1:]) // waits in the netpoller
		}
		read <- err
	}()
	if _, err := client.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil || string(got) != "ab" {
		t.Fatalf("read %q, %v after Attach; want \"ab\"", got, err)
	}
}
