package freeport

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Busy returns a Picker whose first answer starts with a port this test
// already listens on (until it ends), serving each connection with serve (nil:
// close it), so a helper's first start meets a taken port; later calls pick
// free ports. It proves that a start survives a port taken in between, even
// by a stranger that speaks the program's protocol.
func Busy(t testing.TB, serve func(net.Conn)) (pick Picker, busyPort int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("freeport: %v", err)
	}
	busyPort = ln.Addr().(*net.TCPAddr).Port
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if serve != nil {
				serve(c)
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	var mu sync.Mutex
	first := true
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if first { // the helper picked its ports some other way: nothing was proved
			t.Error("freeport.Busy: the taken port was never offered to the start")
		}
	})
	return func(n int) ([]int, error) {
		mu.Lock()
		defer mu.Unlock()
		if !first {
			return Pick(n)
		}
		first = false
		rest, err := Pick(n - 1)
		return append([]int{busyPort}, rest...), err
	}, busyPort
}

// AnswerHTTP is a Busy stranger that answers one HTTP request with status
// (e.g. "200 OK") and body, then closes.
func AnswerHTTP(status, body string) func(net.Conn) {
	return func(c net.Conn) {
		_, _ = c.Read(make([]byte, 4096))
		_, _ = fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, len(body), body)
	}
}
