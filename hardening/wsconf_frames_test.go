package hardening

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// serverFrame is one frame from the server side.
type serverFrame struct {
	b0, b1  byte
	payload []byte
}

func (f serverFrame) opcode() byte { return f.b0 & 0x0f }
func (f serverFrame) fin() bool    { return f.b0&0x80 != 0 }

func readServerFrame(br *bufio.Reader) (serverFrame, error) {
	var f serverFrame
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return f, err
	}
	f.b0, f.b1 = h[0], h[1]
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(br, e[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(br, e[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if n > 1<<24 {
		return f, fmt.Errorf("server frame of %d bytes: too large for the test", n)
	}
	if h[1]&0x80 != 0 {
		var key [4]byte
		if _, err := io.ReadFull(br, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(br, f.payload)
	return f, err
}

// clientBytes is one masked client frame with first byte b0.
func clientBytes(b0 byte, payload []byte) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	b = append(b, key[:]...)
	for i, x := range payload {
		b = append(b, x^key[i&3])
	}
	return b
}
