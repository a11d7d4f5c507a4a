// Command floor is the fan-out floor of bench/compare.sh: the same framed
// bytes bridgeway writes, to the same subscriber sockets, from one
// goroutine, and nothing else (see loadgen.Floor).
//
//	go run ./bench/floor -listen 127.0.0.1:18089 -upstream ws://127.0.0.1:18091/feed
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bridgeway/bridgeway/bench/loadgen"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18089", "address subscribers connect to (paths .../sse and .../ws)")
	upstream := flag.String("upstream", "ws://127.0.0.1:18091/feed", "WebSocket upstream the messages come from")
	flag.Parse()
	f, err := loadgen.StartFloor(*listen, *upstream)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	f.Close()
}
