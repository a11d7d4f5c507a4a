package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/proxy"
)

// notifyListener is a stand-in for systemd's notification socket: a real
// unixgram socket whose address goes into NOTIFY_SOCKET.
func notifyListener(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", addr)
	return conn
}

func nextNotification(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	// The deadline only keeps a broken test from hanging.
	_ = conn.SetReadDeadline(time.Now().Add(testTimeout))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

// Under systemd (Type=notify) the gateway says READY=1 once it serves,
// RELOADING=1 with MONOTONIC_USEC then READY=1 around a SIGHUP reload, and
// STOPPING=1 when SIGTERM starts the drain.
func TestRunNotifiesSystemd(t *testing.T) {
	sock := notifyListener(t, filepath.Join(t.TempDir(), "notify"))
	app := upstreamServer(t, "app")
	path := writeFile(t, t.TempDir(), "gw.yaml", gatewayYAML([2]string{"/app", app.URL}))

	signals := make(chan os.Signal, 1)
	servers := make(chan *proxy.Server, 1)
	exit := make(chan int, 1)
	logs := &syncBuffer{}
	go func() { exit <- runGateway(path, logs, signals, func(s *proxy.Server) { servers <- s }) }()
	srv := <-servers

	if got := nextNotification(t, sock); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	if code, _ := fetch(t, "http://"+srv.Addr()+"/app"); code != 200 {
		t.Fatalf("not serving after READY=1: %d", code)
	}
	signals <- syscall.SIGHUP
	if got := nextNotification(t, sock); !regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*$`).MatchString(got) {
		t.Fatalf("reload notification %q", got)
	}
	if got := nextNotification(t, sock); got != "READY=1" {
		t.Fatalf("after the reload %q, want READY=1", got)
	}
	signals <- syscall.SIGTERM
	if got := nextNotification(t, sock); got != "STOPPING=1" {
		t.Fatalf("on SIGTERM %q, want STOPPING=1", got)
	}
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d: %s", code, logs.String())
	}
}

// systemd may name an abstract socket (@name); without NOTIFY_SOCKET
// nothing is sent and nothing fails.
func TestSdNotifyAbstractSocketAndNoSocket(t *testing.T) {
	// Abstract names are machine-wide: the pid and time keep parallel runs
	// (other checkouts) apart.
	sock := notifyListener(t, fmt.Sprintf("@bridgeway-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := sdNotify(sdReady); err != nil {
		t.Fatal(err)
	}
	if got := nextNotification(t, sock); got != "READY=1" {
		t.Fatalf("got %q", got)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify(sdReady); err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
}
