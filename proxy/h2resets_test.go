package proxy

import (
	"bytes"
	"net"
	"testing"
)

// TestFrameScannerBoundaries: frame headers and payloads split anywhere
// across writes; the scanner reports each header once and the offset after
// the last whole frame.
func TestFrameScannerBoundaries(t *testing.T) {
	frame := func(typ byte, payload string) []byte {
		n := len(payload)
		return append([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, 0, 0, 0, 0, 1}, payload...)
	}
	stream := bytes.Join([][]byte{frame(1, "abc"), frame(3, "1234"), frame(4, ""), frame(0, "hello world")}, nil)
	ends := map[int]bool{12: true, 25: true, 34: true, len(stream): true}
	for split := 1; split < len(stream); split++ {
		var s frameScanner
		var types []byte
		on := func(h *[9]byte) { types = append(types, h[3]) }
		first := s.scan(stream[:split], on)
		second := s.scan(stream[split:], on)
		if !bytes.Equal(types, []byte{1, 3, 4, 0}) {
			t.Fatalf("split %d: headers %v", split, types)
		}
		wantFirst := -1
		for end := range ends {
			if end <= split && end > wantFirst {
				wantFirst = end
			}
		}
		if first != wantFirst || second != len(stream)-split {
			t.Errorf("split %d: boundaries %d, %d; want %d, %d", split, first, second, wantFirst, len(stream)-split)
		}
	}
}

// recordConn records every Write as one chunk.
type recordConn struct {
	net.Conn
	writes [][]byte
}

func (c *recordConn) Write(b []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), b...))
	return len(b), nil
}

// TestResetLimitConnWritesWholeFrames: the server's writes reach the wire
// only up to the last whole frame, the rest follows with the frame's end,
// so a GOAWAY written between two writes always starts a frame.
func TestResetLimitConnWritesWholeFrames(t *testing.T) {
	rec := &recordConn{}
	c := &resetLimitConn{Conn: rec}
	data := append([]byte{0, 0, 5, 0, 0, 0, 0, 0, 1}, "hello"...) // a DATA frame
	two := append(append([]byte(nil), data...), data...)
	for _, part := range [][]byte{two[:4], two[4:12], two[12:20], two[20:]} {
		if n, err := c.Write(part); n != len(part) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	got := rec.writes
	if len(got) != 2 || !bytes.Equal(got[0], data) || !bytes.Equal(got[1], data) {
		t.Errorf("wire writes %q, want the two frames whole", got)
	}
}

// FuzzFrameScanner: however a byte stream is split, the scanner sees the
// same frame headers, and the boundaries it reports are where whole frames
// end (checked against scanning the stream in one piece).
func FuzzFrameScanner(f *testing.F) {
	f.Add([]byte{0, 0, 3, 1, 0, 0, 0, 0, 1, 'a', 'b', 'c', 0, 0, 0, 4, 1, 0, 0, 0, 0}, 5)
	f.Add([]byte{0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 1, 0, 0}, 9)
	f.Fuzz(func(t *testing.T, stream []byte, split int) {
		if split < 0 || split > len(stream) {
			return
		}
		var whole frameScanner
		var want []byte
		ends := map[int]bool{}
		for i := range stream { // one byte at a time: every boundary
			if whole.scan(stream[i:i+1], func(h *[9]byte) { want = append(want, h[3]) }) == 1 {
				ends[i+1] = true
			}
		}
		var s frameScanner
		var got []byte
		on := func(h *[9]byte) { got = append(got, h[3]) }
		first := s.scan(stream[:split], on)
		second := s.scan(stream[split:], on)
		if !bytes.Equal(got, want) {
			t.Fatalf("headers %v, want %v", got, want)
		}
		if first >= 0 && !ends[first] {
			t.Fatalf("first boundary %d is not a frame end", first)
		}
		if second >= 0 && !ends[split+second] {
			t.Fatalf("second boundary %d is not a frame end", split+second)
		}
	})
}
