package proxy

import (
	"bytes"
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
