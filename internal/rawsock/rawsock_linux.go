package rawsock

import (
	"syscall"
	"unsafe"
)

// Supported reports whether Read and Peek are available and Write skips
// the scheduler.
const Supported = true

// Write is send(2) on a non-blocking socket: sendto rather than write(2),
// which takes the file's position lock and the VFS layer first (a few
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
func Read(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0, 0, 0)
	return int(n), e
}

// Peek copies what the socket has to read into p without consuming it and
// without waiting: n > 0 bytes; n == 0 with errno 0 is EOF; EAGAIN when
// nothing arrived.
func Peek(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)),
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

// Gone reports whether the peer closed its end or the socket failed, without
// waiting and without consuming anything (bytes waiting to be read mean the
// peer is still there).
func Gone(fd uintptr) bool {
	var b [1]byte
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	if e == 0 {
		return n == 0
	}
	return e != syscall.EAGAIN && e != syscall.EINTR
}

// Ready reports whether a read would not wait: a byte to peek at, EOF, or
// an error for the next read to return. Nothing is consumed.
func Ready(fd uintptr) bool {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return e != syscall.EAGAIN && e != syscall.EINTR
}
