package uring

import "os"

// Off reports whether io_uring was switched off for this process
// (BRIDGEWAY_IO_URING=off): every user then keeps its epoll path.
func Off() bool { return os.Getenv("BRIDGEWAY_IO_URING") == "off" }
