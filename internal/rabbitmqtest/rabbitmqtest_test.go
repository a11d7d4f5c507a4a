//go:build unix

package rabbitmqtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/freeport"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The broker chooses v12.stomp when offered it and answers a STOMP 1.2
// CONNECT; after Stop nothing answers.
func TestWebStompAnswersConnect(t *testing.T) {
	b := Start(t)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"v12.stomp"}}
	ws, _, err := d.Dial(b.WebStompURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if ws.Subprotocol() != "v12.stomp" {
		t.Fatalf("subprotocol %q", ws.Subprotocol())
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("CONNECT\naccept-version:1.2\nhost:/\nlogin:guest\npasscode:guest\n\n\x00")); err != nil {
		t.Fatal(err)
	}
	_, frame, err := ws.ReadMessage()
	if err != nil || !strings.HasPrefix(string(frame), "CONNECTED\n") {
		t.Fatalf("answer %q, %v", frame, err)
	}
	b.Stop()
	if _, _, err := d.Dial(b.WebStompURL(), nil); err == nil {
		t.Fatal("broker still answers after Stop")
	}
}

// A Web-STOMP port taken between the pick and the broker's bind, by a
// stranger that answers like Web-STOMP (426), does not pass for the broker:
// the start tries new ports and the URL it returns is the broker's.
func TestStartSurvivesATakenPort(t *testing.T) {
	pick, busy := freeport.Busy(t, freeport.AnswerHTTP("426 Upgrade Required", ""))
	pickPorts = pick
	defer func() { pickPorts = freeport.Pick }()
	b := Start(t)
	if strings.Contains(b.WebStompURL(), ":"+strconv.Itoa(busy)+"/") {
		t.Fatalf("Web-STOMP %s is on the taken port %d", b.WebStompURL(), busy)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"v12.stomp"}}
	ws, _, err := d.Dial(b.WebStompURL(), nil)
	if err != nil {
		t.Fatalf("Web-STOMP handshake: %v", err)
	}
	_ = ws.Close()
}

// An epmd that exits for another reason than a taken port fails the start
// with what it said, and is not retried as a taken port would be.
func TestEpmdFailureIsNotATakenPort(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "epmd")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'epmd: cannot open /etc/bogus.conf' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ports, err := freeport.Pick(4)
	if err != nil {
		t.Fatal(err)
	}
	_, err = start(t, fake, ports)
	if err == nil || errors.Is(err, freeport.ErrInUse) || !strings.Contains(err.Error(), "cannot open /etc/bogus.conf") {
		t.Fatalf("start with a failing epmd: %v; want its words, not a taken port", err)
	}
}

// An epmd port taken between the pick and epmd's bind is retried: epmd
// says so, and the broker starts on new ports.
func TestStartSurvivesATakenEpmdPort(t *testing.T) {
	busy, busyPort := freeport.Busy(t, nil)
	pickPorts = func(n int) ([]int, error) {
		ports, err := busy(n)
		if err == nil && ports[0] == busyPort { // epmd's is the last
			ports[0], ports[n-1] = ports[n-1], ports[0]
		}
		return ports, err
	}
	defer func() { pickPorts = freeport.Pick }()
	b := Start(t)
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"v12.stomp"}}
	ws, _, err := d.Dial(b.WebStompURL(), nil)
	if err != nil {
		t.Fatalf("Web-STOMP handshake: %v", err)
	}
	_ = ws.Close()
}
