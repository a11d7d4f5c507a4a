package passthrough

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestReadFrameHeader(t *testing.T) {
	ext16 := func(n uint16) []byte { b := []byte{0x82, 126, 0, 0}; binary.BigEndian.PutUint16(b[2:], n); return b }
	ext64 := func(n uint64) []byte {
		b := make([]byte, 10)
		b[0], b[1] = 0x82, 127
		binary.BigEndian.PutUint64(b[2:], n)
		return b
	}
	cases := []struct {
		name    string
		in      []byte
		length  int64
		opcode  byte
		masked  bool
		rawLen  int
		wantErr error
	}{
		{"empty text", []byte{0x81, 0}, 0, 1, false, 2, nil},
		{"7-bit max", []byte{0x82, 125}, 125, 2, false, 2, nil},
		{"masked", []byte{0x81, 0x85, 1, 2, 3, 4}, 5, 1, true, 6, nil},
		{"16-bit", ext16(126), 126, 2, false, 4, nil},
		{"16-bit max", ext16(65535), 65535, 2, false, 4, nil},
		{"64-bit", ext64(65536), 65536, 2, false, 10, nil},
		{"64-bit at cap", ext64(1 << 62), 1 << 62, 2, false, 10, nil},
		{"64-bit over cap", ext64(1<<62 + 1), 0, 0, false, 0, errFrame},
		{"64-bit top bit", ext64(1 << 63), 0, 0, false, 0, errFrame},
		{"close", []byte{0x88, 2}, 2, opClose, false, 2, nil},
		{"nothing", nil, 0, 0, false, 0, io.EOF},
		{"cut in length", []byte{0x82, 127, 0, 0}, 0, 0, false, 0, io.ErrUnexpectedEOF},
		{"cut in mask", []byte{0x82, 0x81, 1}, 0, 0, false, 0, io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf [maxFrameHeader]byte
			h, err := readFrameHeader(bytes.NewReader(c.in), buf[:])
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.length != c.length || h.opcode != c.opcode || h.masked != c.masked || len(h.raw) != c.rawLen {
				t.Errorf("got %+v", h)
			}
			if !bytes.Equal(h.raw, c.in[:c.rawLen]) {
				t.Errorf("raw %x, want %x", h.raw, c.in[:c.rawLen])
			}
		})
	}
}

func TestCloseFrame(t *testing.T) {
	for _, masked := range []bool{false, true} {
		f := closeFrame(closeGoingAway, reasonShutdown, masked)
		var buf [maxFrameHeader]byte
		r := bytes.NewReader(f)
		h, err := readFrameHeader(r, buf[:])
		if err != nil || h.opcode != opClose || !h.fin || h.masked != masked {
			t.Fatalf("header %+v, %v", h, err)
		}
		payload, _ := io.ReadAll(r)
		if masked {
			key := f[2:6]
			for i := range payload {
				payload[i] ^= key[i%4]
			}
		}
		if code := binary.BigEndian.Uint16(payload); code != closeGoingAway || string(payload[2:]) != reasonShutdown {
			t.Errorf("masked=%v: code %d reason %q", masked, code, payload[2:])
		}
	}
	long := closeFrame(closeProtocolErr, string(bytes.Repeat([]byte("x"), 300)), false)
	if len(long) != 2+maxControlPayload {
		t.Errorf("long reason not cut: %d bytes", len(long))
	}
}

// FuzzReadFrameHeader: any input either fails or yields a header whose raw
// bytes are exactly what was consumed, with a length within the cap.
func FuzzReadFrameHeader(f *testing.F) {
	for _, seed := range [][]byte{
		{0x81, 0}, {0x81, 0x85, 1, 2, 3, 4}, {0x82, 126, 1, 0}, {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0},
		{0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x88, 0x82, 0, 0, 0, 0, 3, 0xe9},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var buf [maxFrameHeader]byte
		r := bytes.NewReader(in)
		h, err := readFrameHeader(r, buf[:])
		if err != nil {
			return
		}
		consumed := len(in) - r.Len()
		if len(h.raw) != consumed || !bytes.Equal(h.raw, in[:consumed]) {
			t.Fatalf("raw %x, consumed %d of %x", h.raw, consumed, in)
		}
		if h.length < 0 || h.length > maxFrameLength {
			t.Fatalf("length %d", h.length)
		}
		if h.isControl() && h.length > maxControlPayload {
			t.Fatalf("control length %d", h.length)
		}
	})
}

// readFrameHeader reads one frame header (the tests' reader, and the
// oracle parseFrameHeader is fuzzed against) into buf (at least maxFrameHeader
// bytes) and validates the declared length.
func readFrameHeader(r io.Reader, buf []byte) (frameHeader, error) {
	var h frameHeader
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return h, err
	}
	h.fin = buf[0]&0x80 != 0
	h.opcode = buf[0] & 0x0f
	h.masked = buf[1]&0x80 != 0
	n := 2
	switch length := buf[1] & 0x7f; length {
	case 126:
		if _, err := io.ReadFull(r, buf[n:n+2]); err != nil {
			return h, noEOF(err)
		}
		h.length = int64(binary.BigEndian.Uint16(buf[n:]))
		n += 2
	case 127:
		if _, err := io.ReadFull(r, buf[n:n+8]); err != nil {
			return h, noEOF(err)
		}
		v := binary.BigEndian.Uint64(buf[n:])
		if v > maxFrameLength {
			return h, fmt.Errorf("%w: declared length %d is too large", errFrame, v)
		}
		h.length = int64(v)
		n += 8
	default:
		h.length = int64(length)
	}
	if h.masked {
		if _, err := io.ReadFull(r, buf[n:n+4]); err != nil {
			return h, noEOF(err)
		}
		n += 4
	}
	h.raw = buf[:n]
	return h, nil
}
