package wsframe

import (
	"bytes"
	"testing"
)

// TestUnmaskWordwise: the eight-bytes-at-a-time unmask gives what XORing
// byte by byte gives, for every length, offset into the payload and key
// rotation, and unmasking in pieces equals unmasking at once.
func TestUnmaskWordwise(t *testing.T) {
	key := [4]byte{0x9a, 0x21, 0xe7, 0x44}
	src := make([]byte, 70)
	for i := range src {
		src[i] = byte(i*37 + 11)
	}
	for n := range len(src) {
		for off := range 8 {
			got := bytes.Clone(src[:n])
			unmask(got, key, off)
			for i := range n {
				if want := src[i] ^ key[(off+i)&3]; got[i] != want {
					t.Fatalf("len %d off %d: byte %d is %#x, want %#x", n, off, i, got[i], want)
				}
			}
		}
	}
	whole, pieces := bytes.Clone(src), bytes.Clone(src)
	unmask(whole, key, 0)
	for at := 0; at < len(pieces); at += 13 {
		end := min(at+13, len(pieces))
		unmask(pieces[at:end], key, at)
	}
	if !bytes.Equal(whole, pieces) {
		t.Fatal("unmasking in pieces differs from unmasking at once")
	}
}
