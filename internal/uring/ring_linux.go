package uring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	sysSetup    = 425
	sysEnter    = 426
	sysRegister = 427

	setupCQSize       = 1 << 3
	setupSubmitAll    = 1 << 7
	setupCoopTaskrun  = 1 << 8
	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13

	enterGetEvents = 1 << 0
	enterExtArg    = 1 << 3

	featSingleMmap = 1 << 0

	offSQEs = 0x10000000

	opNop         = 0
	opAsyncCancel = 14
	opRead        = 22
	opSend        = 26
	opRecv        = 27

	sqeBufferSelect = 1 << 5
	cqeFBuffer      = 1 << 0
	cqeBufferShift  = 16
)

// ErrUnsupported is wrapped by New's error when the kernel has no usable
// io_uring.
var ErrUnsupported = errors.New("io_uring unsupported")

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

// SQE is struct io_uring_sqe: one submission, filled by the helpers below.
type SQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufGroup    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

// CQE is struct io_uring_cqe: one completion.
type CQE struct {
	UserData uint64
	Res      int32 // bytes, or -errno
	Flags    uint32
}

// Buffer reports the provided buffer a receive filled.
func (c *CQE) Buffer() (id uint16, ok bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&cqeFBuffer != 0
}

// Err is the completion's error, nil when Res is not negative.
func (c *CQE) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return syscall.Errno(-c.Res)
}

// Ring is one io_uring instance. Its methods are for one goroutine at a
// time (the one that owns the ring); the kernel's side is synchronised
// through the rings' head and tail words.
type Ring struct {
	fd       int
	ringMem  []byte
	sqeMem   []byte
	sqHead   *uint32
	sqTail   *uint32
	sqMask   uint32
	sqes     []SQE
	cqHead   *uint32
	cqTail   *uint32
	cqMask   uint32
	cqes     []CQE
	tail     uint32 // SQEs handed out, published to the kernel at Submit
	unsubmit uint32
}

// New sets up a ring with entries submission slots and four times as many
// completion slots. Task running is cooperative: an operation that had to
// wait (a receive before bytes came) is completed by the thread that
// submitted it at its next entry into the kernel (a system call, an
// interrupt), never by interrupting it; the signal-like mode interrupted it
// while the sender's softirq still held the socket's lock, and spun on it
// (docs/benchmarks.md, *Pass-through on io_uring*).
func New(entries uint32) (*Ring, error) {
	return setupRing(entries, setupCoopTaskrun)
}

// NewOwned sets up a ring that only the calling thread may use, for a
// goroutine locked to its thread for the ring's life (Close it before the
// goroutine ends). The kernel then completes an operation that had to
// wait only when that thread asks for completions (WaitHeld), and wakes
// nothing else for it: a receive's data reaching the socket wakes the
// thread if it waits in WaitHeld, and costs nobody anything otherwise.
func NewOwned(entries uint32) (*Ring, error) {
	return setupRing(entries, setupSingleIssuer|setupDeferTaskrun)
}

func setupRing(entries, flags uint32) (*Ring, error) {
	p := params{flags: setupCQSize | setupSubmitAll | flags, cqEntries: entries * 4}
	fd, _, e := syscall.RawSyscall(sysSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		if e == syscall.EINVAL && flags&setupDeferTaskrun != 0 {
			return nil, fmt.Errorf("%w: io_uring_setup: %v (a ring of one thread with deferred task running needs Linux 6.1)", ErrUnsupported, e)
		}
		return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrUnsupported, e)
	}
	r := &Ring{fd: int(fd)}
	if p.features&featSingleMmap == 0 {
		r.Close()
		return nil, fmt.Errorf("%w: no single mmap (kernel before 5.4)", ErrUnsupported)
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(CQE{})))
	var err error
	if r.ringMem, err = mmap(r.fd, 0, int(size)); err != nil {
		r.Close()
		return nil, err
	}
	if r.sqeMem, err = mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(SQE{}))); err != nil {
		r.Close()
		return nil, err
	}
	base := unsafe.Pointer(&r.ringMem[0])
	r.sqHead = (*uint32)(unsafe.Add(base, p.sqOff.head))
	r.sqTail = (*uint32)(unsafe.Add(base, p.sqOff.tail))
	r.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff.ringMask))
	// The index array maps slot i to SQE i for good: SQEs are used in ring
	// order, so it never changes.
	array := unsafe.Slice((*uint32)(unsafe.Add(base, p.sqOff.array)), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	r.cqHead = (*uint32)(unsafe.Add(base, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(base, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff.ringMask))
	r.cqes = unsafe.Slice((*CQE)(unsafe.Add(base, p.cqOff.cqes)), p.cqEntries)
	r.tail = atomic.LoadUint32(r.sqTail)
	return r, nil
}

func mmap(fd int, off int64, size int) ([]byte, error) {
	b, err := syscall.Mmap(fd, off, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("%w: mmap: %v", ErrUnsupported, err)
	}
	return b, nil
}

// Close unmaps the rings and closes the ring's descriptor; operations still
// in flight are cancelled by the kernel.
func (r *Ring) Close() {
	if r.sqeMem != nil {
		_ = syscall.Munmap(r.sqeMem)
	}
	if r.ringMem != nil {
		_ = syscall.Munmap(r.ringMem)
	}
	_ = syscall.Close(r.fd)
}

// get hands out the next submission slot, submitting what is queued when
// the ring is full.
func (r *Ring) get() *SQE {
	for r.tail-atomic.LoadUint32(r.sqHead) > r.sqMask {
		if err := r.Submit(0); err != nil {
			return nil
		}
	}
	s := &r.sqes[r.tail&r.sqMask]
	*s = SQE{}
	r.tail++
	r.unsubmit++
	return s
}

// Submit hands the queued submissions to the kernel. With wait > 0 it
// then waits until that many completions are there, through the
// scheduler's syscall state (the P runs other goroutines meanwhile; a
// signal ends the wait early with a nil error: look and call again). With
// wait 0 it never waits, and makes no call when nothing is queued.
func (r *Ring) Submit(wait uint32) error {
	atomic.StoreUint32(r.sqTail, r.tail)
	var e syscall.Errno
	switch {
	case wait > 0:
		_, _, e = syscall.Syscall6(sysEnter, uintptr(r.fd), uintptr(r.unsubmit), uintptr(wait), enterGetEvents, 0, 0)
	case r.unsubmit > 0:
		_, _, e = syscall.RawSyscall6(sysEnter, uintptr(r.fd), uintptr(r.unsubmit), 0, 0, 0, 0)
	default:
		return nil
	}
	// The kernel's head says how many were taken, whatever the result.
	r.unsubmit = r.tail - atomic.LoadUint32(r.sqHead)
	switch e {
	case 0, syscall.EINTR, syscall.EAGAIN, syscall.EBUSY:
		return nil
	}
	return os.NewSyscallError("io_uring_enter", e)
}

// getEventsArg is struct io_uring_getevents_arg.
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32
	ts        uint64 // *timespec
}

// WaitHeld (a ring from NewOwned) submits what is queued, makes the
// completions that are ready and, when there are none, waits for one, or
// for timeout (timedOut), or a signal. It waits without telling the scheduler: the
// goroutine keeps its P, as a goroutine computing would, so the runtime
// neither hands the P on nor takes it back around each wait (what made
// waiting in Submit cost more than it saved). The runtime's preemption
// signal ends the wait early, so a stop of the world is not held up; the
// timeout bounds it where that signal is switched off
// (GODEBUG=asyncpreemptoff=1).
func (r *Ring) WaitHeld(timeout time.Duration) (timedOut bool, err error) {
	atomic.StoreUint32(r.sqTail, r.tail)
	ts := syscall.NsecToTimespec(int64(timeout))
	arg := getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&ts)))}
	_, _, e := syscall.RawSyscall6(sysEnter, uintptr(r.fd), uintptr(r.unsubmit), 1, enterGetEvents|enterExtArg,
		uintptr(unsafe.Pointer(&arg)), unsafe.Sizeof(arg))
	runtime.KeepAlive(&ts) // arg holds its address as a number
	r.unsubmit = r.tail - atomic.LoadUint32(r.sqHead)
	switch e {
	case syscall.ETIME:
		return true, nil
	case 0, syscall.EINTR, syscall.EAGAIN, syscall.EBUSY:
		return false, nil
	}
	return false, os.NewSyscallError("io_uring_enter", e)
}

// Fd is the ring's descriptor: it polls readable while completions wait
// to be collected.
func (r *Ring) Fd() int { return r.fd }

// Pending reports whether completions wait to be collected.
func (r *Ring) Pending() bool {
	return atomic.LoadUint32(r.cqHead) != atomic.LoadUint32(r.cqTail)
}

// Completions calls f for each completion there is, in order, and frees
// their slots; f may queue new submissions.
func (r *Ring) Completions(f func(*CQE)) int {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail; head++ {
		c := r.cqes[head&r.cqMask] // a copy: the slot is the kernel's once head moves
		atomic.StoreUint32(r.cqHead, head+1)
		f(&c)
		n++
	}
	return n
}

// Recv queues a receive on the socket fd into a buffer the kernel picks
// from group (a BufRing) when bytes arrive: an idle socket holds none.
func (r *Ring) Recv(fd int32, group uint16, userData uint64) bool {
	s := r.get()
	if s == nil {
		return false
	}
	s.opcode, s.fd, s.flags, s.bufGroup, s.userData = opRecv, fd, sqeBufferSelect, group, userData
	return true
}

// RecvInto queues a receive into p from the socket fd with flags (MSG_*).
// p must stay untouched until its completion.
func (r *Ring) RecvInto(fd int32, p []byte, flags uint32, userData uint64) bool {
	return r.socketOp(opRecv, fd, p, flags, userData)
}

// Send queues a send of p on the socket fd with flags (MSG_*). p must stay
// untouched until its completion.
func (r *Ring) Send(fd int32, p []byte, flags uint32, userData uint64) bool {
	return r.socketOp(opSend, fd, p, flags, userData)
}

func (r *Ring) socketOp(op uint8, fd int32, p []byte, flags uint32, userData uint64) bool {
	s := r.get()
	if s == nil {
		return false
	}
	s.opcode, s.fd, s.userData = op, fd, userData
	s.addr, s.len, s.opFlags = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), uint32(len(p)), flags
	return true
}

// Read queues a read of fd into p (an eventfd's counter, for instance).
func (r *Ring) Read(fd int32, p []byte, userData uint64) bool {
	s := r.get()
	if s == nil {
		return false
	}
	s.opcode, s.fd, s.userData = opRead, fd, userData
	s.addr, s.len, s.off = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), uint32(len(p)), ^uint64(0)
	return true
}

// Cancel queues the cancellation of the operation queued with target as
// its user data; that operation completes with -ECANCELED (or with its
// result, if it was done first).
func (r *Ring) Cancel(target, userData uint64) bool {
	s := r.get()
	if s == nil {
		return false
	}
	s.opcode, s.fd, s.addr, s.userData = opAsyncCancel, -1, target, userData
	return true
}
