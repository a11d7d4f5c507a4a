package uring

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"
)

const registerPbufRing = 22

// bufReg is struct io_uring_buf_reg.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	_           [3]uint64
}

// bufDesc is struct io_uring_buf; the ring's tail is the last field of
// its first entry.
type bufDesc struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// BufRing is a group of equal buffers the kernel fills on receives
// queued with its group (Ring.Recv): a buffer is taken only when bytes
// arrive, and is the caller's until Recycle gives it back.
type BufRing struct {
	group uint16
	size  int
	mask  uint16
	descs []bufDesc
	tail  *uint16
	local uint16 // tail with the recycled buffers not yet published
	mem   []byte // the descriptors' page(s), then the buffers
	data  []byte
}

// RegisterBufRing maps count buffers of size bytes (count a power of two,
// at most 32768) and gives them to the kernel as group. Memory is mapped
// outside Go's heap, once, for the ring's life.
func (r *Ring) RegisterBufRing(group uint16, count, size int) (*BufRing, error) {
	if count <= 0 || count > 1<<15 || count&(count-1) != 0 {
		return nil, fmt.Errorf("uring: buffer count %d is not a power of two up to 32768", count)
	}
	page := syscall.Getpagesize()
	descBytes := (count*int(unsafe.Sizeof(bufDesc{})) + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, descBytes+count*size, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("uring: buffers: %w", err)
	}
	b := &BufRing{group: group, size: size, mask: uint16(count - 1), mem: mem, data: mem[descBytes:]}
	b.descs = unsafe.Slice((*bufDesc)(unsafe.Pointer(&mem[0])), count)
	b.tail = &b.descs[0].resv
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), ringEntries: uint32(count), bgid: group}
	if _, _, e := syscall.Syscall6(sysRegister, uintptr(r.fd), registerPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0); e != 0 {
		_ = syscall.Munmap(mem)
		return nil, fmt.Errorf("%w: provided buffer ring (Linux 5.19): %v", ErrUnsupported, e)
	}
	for id := range count {
		b.Recycle(uint16(id))
	}
	b.Publish()
	return b, nil
}

// Close unmaps the buffers; the ring they were registered with must be
// closed first.
func (b *BufRing) Close() { _ = syscall.Munmap(b.mem) }

// Group is the group id to pass to Ring.Recv.
func (b *BufRing) Group() uint16 { return b.group }

// Bytes is buffer id's first n bytes.
func (b *BufRing) Bytes(id uint16, n int) []byte {
	off := int(id) * b.size
	return b.data[off : off+n : off+b.size]
}

// Recycle queues buffer id to go back to the kernel at the next Publish.
func (b *BufRing) Recycle(id uint16) {
	d := &b.descs[b.local&b.mask]
	d.addr = uint64(uintptr(unsafe.Pointer(&b.data[int(id)*b.size])))
	d.len = uint32(b.size)
	d.bid = id
	b.local++
}

// Publish gives the recycled buffers back to the kernel.
func (b *BufRing) Publish() {
	atomicStore16(b.tail, b.local)
}

// atomicStore16 is a release store of a 16-bit word (the kernel reads the
// tail with smp_load_acquire): on the architectures Go supports here a
// plain store after a full barrier is enough, and sync/atomic has no
// 16-bit store, so the barrier comes from an atomic add on a dummy word.
func atomicStore16(p *uint16, v uint16) {
	atomic.AddUint32(&barrier, 0)
	*(*uint16)(unsafe.Pointer(p)) = v
}

var barrier uint32
