package uring

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// socketPair is a connected loopback TCP pair and the descriptors under it.
func socketPair(t *testing.T) (a, b *net.TCPConn, afd, bfd int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a, b = c.(*net.TCPConn), s.(*net.TCPConn)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, fdOf(t, a), fdOf(t, b)
}

func fdOf(t *testing.T, c *net.TCPConn) int32 {
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int32
	_ = rc.Control(func(f uintptr) { fd = int32(f) })
	return fd
}

// newRing is a ring with a group of buffers of 64 bytes (none when 0).
func newRing(t *testing.T, buffers int) (*Ring, *BufRing) {
	t.Helper()
	r, err := New(16)
	if errors.Is(err, ErrUnsupported) {
		testdeps.Missing(t, err.Error()) // the relay keeps its epoll loop there; its tests cover that
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if buffers == 0 {
		return r, nil
	}
	bufs, err := r.RegisterBufRing(1, buffers, 64)
	if err != nil {
		t.Fatal(err)
	}
	return r, bufs
}

// write sends s from conn.
func write(t *testing.T, conn *net.TCPConn, s string) {
	t.Helper()
	if _, err := conn.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// wait submits and returns the next completion.
func wait(t *testing.T, r *Ring) CQE {
	t.Helper()
	var got []CQE
	for len(got) == 0 {
		if err := r.Submit(1); err != nil {
			t.Fatal(err)
		}
		r.Completions(func(c *CQE) { got = append(got, *c) })
	}
	if len(got) != 1 {
		t.Fatalf("%d completions, want 1: %+v", len(got), got)
	}
	return got[0]
}

func TestRecvIntoProvidedBufferThenSend(t *testing.T) {
	r, bufs := newRing(t, 4)
	a, _, _, bfd := socketPair(t)
	write(t, a, "hello")
	r.Recv(bfd, bufs.Group(), 7)
	c := wait(t, r)
	id, ok := c.Buffer()
	if c.UserData != 7 || c.Res != 5 || !ok {
		t.Fatalf("recv completion %+v (buffer %v)", c, ok)
	}
	if got := string(bufs.Bytes(id, int(c.Res))); got != "hello" {
		t.Fatalf("received %q", got)
	}
	// Echo it back from the provided buffer, then give the buffer back.
	r.Send(bfd, bufs.Bytes(id, int(c.Res)), syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 8)
	if c := wait(t, r); c.UserData != 8 || c.Res != 5 {
		t.Fatalf("send completion %+v", c)
	}
	bufs.Recycle(id)
	bufs.Publish()
	got := make([]byte, 16)
	n, err := a.Read(got)
	if err != nil || string(got[:n]) != "hello" {
		t.Fatalf("peer read %q, %v", got[:n], err)
	}
}

func TestRecvWaitsThenCancel(t *testing.T) {
	r, bufs := newRing(t, 2)
	_, _, _, bfd := socketPair(t)
	r.Recv(bfd, bufs.Group(), 1)
	if err := r.Submit(0); err != nil {
		t.Fatal(err)
	}
	r.Cancel(1, 2)
	var got = map[uint64]int32{}
	for len(got) < 2 {
		if err := r.Submit(1); err != nil {
			t.Fatal(err)
		}
		r.Completions(func(c *CQE) { got[c.UserData] = c.Res })
	}
	if got[1] != -int32(syscall.ECANCELED) || got[2] != 0 {
		t.Fatalf("completions %v: want the receive cancelled, the cancel done", got)
	}
}

func TestRecvWithoutBuffersIsENOBUFS(t *testing.T) {
	r, bufs := newRing(t, 1)
	a, _, _, bfd := socketPair(t)
	write(t, a, "xy")
	r.Recv(bfd, bufs.Group(), 1)
	c := wait(t, r)
	id, _ := c.Buffer()
	if c.Res != 2 {
		t.Fatalf("first receive %+v", c)
	}
	write(t, a, "z")
	r.Recv(bfd, bufs.Group(), 2)
	if c := wait(t, r); c.Err() != syscall.ENOBUFS {
		t.Fatalf("receive with the only buffer taken: %+v, want ENOBUFS", c)
	}
	bufs.Recycle(id)
	bufs.Publish()
	r.Recv(bfd, bufs.Group(), 3)
	if c := wait(t, r); c.Res != 1 {
		t.Fatalf("receive after the buffer came back: %+v", c)
	}
}

func TestSendDontWaitToAFullSocketIsShortOrEAGAIN(t *testing.T) {
	r, _ := newRing(t, 0)
	_, b, _, bfd := socketPair(t)
	_ = b.SetWriteBuffer(4096)
	big := make([]byte, 8<<20)
	r.Send(bfd, big, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 1)
	c := wait(t, r)
	if !(c.Res > 0 && int(c.Res) < len(big)) && c.Err() != syscall.EAGAIN {
		t.Fatalf("send of 8 MiB nobody reads: %+v, want a short count or EAGAIN (never a wait)", c)
	}
}
