// Package uring is the little of Linux's io_uring the pass-through relay
// needs: a submission and a completion ring, socket receives into a ring
// of provided buffers, sends, reads, and cancels, and a ring one locked
// thread owns and waits on (NewOwned, WaitHeld).
//
// Why: on the machines bridgeway is measured on, a system call's entry and
// exit alone cost about 1.2 µs (page-table isolation in a VM), and relaying
// a WebSocket message took a receive and a send each, plus a share of an
// epoll wait: as many calls as nginx makes, and Go's scheduler on top. With
// a ring, one io_uring_enter submits every send and receive a batch of
// messages needs and collects their completions, so the calls per message
// fall well below one.
//
// Only what the kernel checks is checked here: New fails (ErrUnsupported
// wrapped) where io_uring is missing, disabled (kernel.io_uring_disabled)
// or filtered (a container's seccomp profile), or older than the features
// used (provided buffer rings and cooperative task running, Linux 5.19;
// NewOwned's ring of one thread with deferred task running, Linux 6.1),
// and callers then keep their epoll path. No cgo: the rings are mapped and
// read with atomics, as liburing does.
package uring
