package wsframe

import "encoding/binary"

// unmask XORs p with the key, p starting at offset off of the payload:
// eight bytes at a time (as gobwas/ws's Cipher does), then the tail.
func unmask(p []byte, key [4]byte, off int) {
	k := [4]byte{key[off&3], key[(off+1)&3], key[(off+2)&3], key[(off+3)&3]}
	k32 := uint64(binary.LittleEndian.Uint32(k[:]))
	k64 := k32 | k32<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k64)
	}
	for ; i < len(p); i++ {
		p[i] ^= k[i&3]
	}
}
