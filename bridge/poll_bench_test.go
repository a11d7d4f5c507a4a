package bridge_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/config"
)

// BenchmarkPollCycle measures one long-poll request/answer on a broadcast
// route over a keep-alive connection: the cursor is always one message
// behind, so every poll answers at once with that message (request
// parsing, origin check, attach, read, JSON answer, all of net/http's
// per-request work). allocs/op counts both ends; the raw client itself
// allocates nothing per cycle.
func BenchmarkPollCycle(b *testing.B) {
	up := newUpstream(b)
	snapshot := false
	route := config.Route{
		Path:        "/chat",
		Upstream:    config.Upstream{URL: up.url("/feed"), Kind: config.KindWebSocket},
		Mode:        config.ModeBroadcast,
		Buffer:      64,
		PollTimeout: config.Duration(25 * time.Second),
		Snapshot:    &snapshot,
		Transports:  []string{config.TransportLongPoll},
	}
	g := newGateway(b, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(b, ctx, "", nil)
	waitFor(b, "upstream connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	up.publish(strings.Repeat("x", 128))
	ans, _ := g.poll(b, ctx, "?cursor="+first.Cursor, nil)
	if len(ans.Messages) != 1 {
		b.Fatalf("poll answered %d messages, want 1", len(ans.Messages))
	}

	conn, err := net.Dial("tcp", g.srv.Listener.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	req := []byte("GET /chat/poll?cursor=" + first.Cursor + " HTTP/1.1\r\nHost: " +
		g.srv.Listener.Addr().String() + "\r\nAccept: application/json\r\nUser-Agent: bench\r\n\r\n")
	br := bufio.NewReaderSize(conn, 16<<10)
	body := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		n, err := readPollAnswer(br)
		if err != nil {
			b.Fatal(err)
		}
		body = body[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(body, []byte(`"messages":[{`)) {
			b.Fatalf("answer without the message: %s", body)
		}
	}
}

// readPollAnswer reads a 200 response head and returns its Content-Length.
func readPollAnswer(br *bufio.Reader) (int, error) {
	length := -1
	for i := 0; ; i++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if i == 0 && !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
			return 0, &net.ParseError{Type: "status line", Text: string(line)}
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length = 0
			for _, c := range bytes.TrimSpace(v) {
				length = length*10 + int(c-'0')
			}
		}
	}
	if length < 0 {
		return 0, errors.New("no Content-Length")
	}
	return length, nil
}
