package bridge_test

import (
	"bytes"
	"net"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// batchConn collects what a frameConn writes, to send it in one write.
type batchConn struct {
	net.Conn
	b []byte
}

func (c *batchConn) Write(p []byte) (int, error) { c.b = append(c.b, p...); return len(p), nil }

// TestSessionWebSocketFramesInOneWrite: a session client's reader holds
// its read buffer only while it holds bytes and waits for the socket
// otherwise (websocket_reader.go). Frames that arrive in one segment,
// more than the buffer holds, with a ping between fragments, all reach
// the upstream in order, and so does a frame sent after the reader went
// idle again.
func TestSessionWebSocketFramesInOneWrite(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	c := dialFrames(t, g, "/chat/ws")
	big := bytes.Repeat([]byte("b"), 2000) // past the 512-byte read buffer

	batch := &batchConn{}
	bc := &frameConn{t: t, conn: batch}
	bc.frame(true, 1, []byte("one"), true)
	bc.frame(false, 1, []byte("tw"), true)
	bc.frame(true, 9, []byte("between"), true)
	bc.frame(true, 0, []byte("o"), true)
	bc.frame(true, 2, big, true)
	bc.frame(true, 1, []byte("three"), true)
	bc.frame(true, 1, []byte("four"), true) // read with "three" into the buffer
	if _, err := c.conn.Write(batch.b); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		op   byte
		data []byte
	}{{1, []byte("one")}, {1, []byte("two")}, {2, big}, {1, []byte("three")}, {1, []byte("four")}}
	var pong []byte
	for i := 0; i < len(want); {
		op, p, err := c.read()
		switch {
		case err != nil:
			t.Fatalf("frame %d: %v", i, err)
		case op == 0xa: // the pong comes before or between the echoes
			pong = p
			continue
		case op != want[i].op || !bytes.Equal(p, want[i].data):
			t.Fatalf("frame %d: op %d, %d bytes %.20q; want op %d, %d bytes", i, op, len(p), p, want[i].op, len(want[i].data))
		}
		i++
	}
	for pong == nil {
		op, p, err := c.read()
		if err != nil || op != 0xa {
			t.Fatalf("want the pong: op %d %q, %v", op, p, err)
		}
		pong = p
	}
	if string(pong) != "between" {
		t.Fatalf("pong %q", pong)
	}

	c.frame(true, 1, []byte("five"), true)
	if op, p, err := c.read(); err != nil || op != 1 || string(p) != "five" {
		t.Fatalf("after idle: op %d %q, %v", op, p, err)
	}
	if _, _, n := up.stats(); n != 6 {
		t.Fatalf("upstream received %d messages, want 6", n)
	}
}
