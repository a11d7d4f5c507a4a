// Package rawsock reads, writes and peeks at non-blocking sockets with raw
// system calls, for the callbacks of syscall.RawConn on the gateway's
// per-message paths (the broadcast fan-out, the pass-through relay, idle
// WebSocket readers).
//
// Such a call never waits (EAGAIN instead), so it need not go through the
// scheduler's syscall state: syscall.Read and syscall.Write enter it on
// every call, and thousands of them per second kept waking the runtime's
// sysmon thread (a fifth of the gateway's CPU in the echo benchmark). Only
// Linux gets the raw path (Supported); elsewhere Write and Read are the
// ordinary calls and Peek is unavailable. Poller (Linux) tells one
// goroutine when any of many sockets becomes readable (one-shot);
// EdgePoller does the same edge-triggered, with epoll's flags, for
// sockets that stay registered (the pass-through loop, waiting long-poll
// connections). Detach and Attach take a socket out of the runtime's own
// epoll set while nothing of Go waits for it, and put it back
// (netpoll_detach_linux.go).
package rawsock
