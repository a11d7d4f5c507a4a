package rawsock

import (
	"syscall"
	"unsafe"
)

// Supported reports whether Read and Peek are available and Write skips
// the scheduler.
const Supported = true

// Write is send(2) on a non-blocking socket: sendto rather than write(2),
// which goes through the VFS layer first (fdget_pos, vfs_write: a few
// percent of a relayed message's CPU on loopback), and MSG_NOSIGNAL, so a
// peer that left is EPIPE without a SIGPIPE to deliver.
func Write(fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)),
		syscall.MSG_NOSIGNAL, 0, 0)
	return int(n), e
}

// Read is recv(2) on a non-blocking socket (recvfrom, for the same reason
// as Write).
func Read(fd uintptr, p []byte) (int, syscall.Errno) { return recv(fd, p, 0) }

// recv is recvfrom(2) with flags and no address.
func recv(fd uintptr, p []byte, flags int) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)),
		uintptr(flags), 0, 0)
	return int(n), e
}

// Peek copies what the socket has to read into p without consuming it and
// without waiting: n > 0 bytes; n == 0 with errno 0 is EOF; EAGAIN when
// nothing arrived.
func Peek(fd uintptr, p []byte) (int, syscall.Errno) {
	return recv(fd, p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
}

// Gone reports whether the peer closed its end or the socket failed, without
// waiting and without consuming anything (bytes waiting to be read mean the
// peer is still there).
func Gone(fd uintptr) bool {
	var b [1]byte
	n, e := Peek(fd, b[:])
	if e == 0 {
		return n == 0
	}
	return e != syscall.EAGAIN && e != syscall.EINTR
}

// Ready reports whether a read would not wait: a byte to peek at, EOF, or
// an error for the next read to return. Nothing is consumed.
func Ready(fd uintptr) bool {
	var b [1]byte
	_, e := Peek(fd, b[:])
	return e != syscall.EAGAIN && e != syscall.EINTR
}
