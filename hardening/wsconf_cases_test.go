package hardening

import (
	"bytes"
	"encoding/binary"
	"strconv"
)

// The cases of TestWebSocketConformance, numbered after the Autobahn
// TestSuite's fuzzingclient where one follows a case there. Byte 0 of a
// frame: FIN 0x80, RSV 0x70, opcode 0x0f.

// frame is one masked client frame (fin set unless b0 says otherwise).
func frame(b0 byte, payload []byte) []byte { return clientBytes(b0, payload) }

// oneWrite joins frames into one write.
func oneWrite(frames ...[]byte) [][]byte { return [][]byte{bytes.Join(frames, nil)} }

// inPieces writes frames' bytes n at a time.
func inPieces(n int, frames ...[]byte) [][]byte {
	all := bytes.Join(frames, nil)
	var out [][]byte
	for len(all) > n {
		out = append(out, all[:n])
		all = all[n:]
	}
	return append(out, all)
}

// fragments splits a message into frames of n bytes (op first, then
// continuations, FIN on the last).
func fragments(op byte, payload []byte, n int) [][]byte {
	var out [][]byte
	for first := true; first || len(payload) > 0; first = false {
		k := min(n, len(payload))
		b0 := byte(0)
		if first {
			b0 = op
		}
		if k == len(payload) {
			b0 |= 0x80
		}
		out = append(out, frame(b0, payload[:k]))
		payload = payload[k:]
	}
	return out
}

func closeWith(code int, reason string) []byte {
	return frame(0x88, append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...))
}

func text(s string) []byte        { return frame(0x81, []byte(s)) }
func ping(p string) []byte        { return frame(0x89, []byte(p)) }
func filled(n int) []byte         { return bytes.Repeat([]byte{'*'}, n) }
func frames(f ...[]byte) [][]byte { return f }

// holdsClose reports whether client frames b hold a close frame.
func holdsClose(b []byte) bool {
	for len(b) >= 6 {
		n, at := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, at = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, at = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if b[0]&0x0f == 0x8 {
			return true
		}
		b = b[min(len(b), at+4+n):]
	}
	return false
}

func wsconfCases() []wsconfCase {
	var cs []wsconfCase
	add := func(id string, fs [][]byte, codes ...int) {
		cs = append(cs, wsconfCase{id: id, frames: fs, closes: holdsClose(bytes.Join(fs, nil)), codes: codes})
	}
	// 1: framing, text and binary echo at the length boundaries.
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		add("1.1."+strconv.Itoa(i+1), frames(frame(0x81, filled(n))))
		add("1.2."+strconv.Itoa(i+1), frames(frame(0x82, bytes.Repeat([]byte{0xfe}, n))))
	}
	add("1.1.8", inPieces(997, frame(0x81, filled(65536))))
	// 2: pings and pongs.
	add("2.1", frames(ping("")))
	add("2.2", frames(ping("Hello, world!")))
	add("2.3", frames(frame(0x89, []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff})))
	add("2.4", frames(frame(0x89, filled(125))))
	add("2.5", frames(frame(0x89, filled(126))))
	add("2.6", inPieces(1, frame(0x89, filled(125))))
	add("2.7", frames(frame(0x8a, nil)))
	add("2.8", frames(frame(0x8a, []byte("unsolicited pong payload"))))
	add("2.9", frames(frame(0x8a, []byte("unsolicited")), ping("ping payload")))
	var tenPings [][]byte
	for i := range 10 {
		tenPings = append(tenPings, ping("payload-"+strconv.Itoa(i)))
	}
	add("2.10", tenPings)
	add("2.11", oneWrite(tenPings...))
	// 3: reserved bits (no extension is negotiated).
	add("3.1", frames(frame(0x81|0x10, []byte("Hello"))))
	add("3.2", frames(text("Hello"), frame(0x81|0x20, []byte("Hello")), ping("")))
	add("3.3", oneWrite(text("Hello"), frame(0x81|0x30, []byte("Hello")), ping("")))
	add("3.4", inPieces(1, text("Hello"), frame(0x81|0x40, []byte("Hello")), ping("")))
	add("3.5", frames(frame(0x82|0x50, []byte{0, 1, 2})))
	add("3.6", frames(frame(0x89|0x60, []byte("Hello"))))
	add("3.7", frames(frame(0x88|0x70, nil)))
	// 4: reserved opcodes, with valid frames around them.
	for i, op := range []byte{3, 4, 5, 6, 7} {
		add("4.1."+strconv.Itoa(i+1), frames(text("Hello"), frame(0x80|op, []byte("reserved")), ping("")))
	}
	for i, op := range []byte{0xb, 0xc, 0xd, 0xe, 0xf} {
		add("4.2."+strconv.Itoa(i+1), frames(text("Hello"), frame(0x80|op, []byte("reserved")), ping("")))
	}
	// 5: fragmentation.
	add("5.1", frames(frame(0x09, []byte("frag")), frame(0x80, []byte("ment"))))
	add("5.2", frames(frame(0x0a, []byte("frag")), frame(0x80, []byte("ment"))))
	add("5.3", frames(frame(0x01, []byte("frag")), frame(0x80, []byte("ment"))))
	add("5.4", oneWrite(frame(0x01, []byte("frag")), frame(0x80, []byte("ment"))))
	add("5.6", frames(frame(0x01, []byte("frag")), ping("in between"), frame(0x80, []byte("ment"))))
	add("5.7", oneWrite(frame(0x01, []byte("frag")), ping("in between"), frame(0x80, []byte("ment"))))
	add("5.8", inPieces(1, frame(0x01, []byte("frag")), ping("in between"), frame(0x80, []byte("ment"))))
	add("5.9", frames(frame(0x80, []byte("no start")), text("Hello")))
	add("5.10", frames(frame(0x00, []byte("no start")), text("Hello")))
	add("5.12", frames(frame(0x00, []byte("no")), frame(0x80, []byte("start")), text("Hello")))
	add("5.15", frames(frame(0x01, []byte("frag")), frame(0x80, []byte("ment")), frame(0x00, []byte("more")), frame(0x80, []byte("!"))))
	add("5.18", frames(frame(0x01, []byte("frag")), frame(0x01, []byte("new message inside"))))
	add("5.19", append(fragments(0x01, []byte("fragment1fragment2fragment3fragment4fragment5"), 9)[:2],
		ping("p1"), fragments(0x01, []byte("x"), 9)[0]))
	add("5.20", append(append(fragments(0x01, []byte("fragment1fragment2fragment3"), 9)[:2], ping("p1")),
		fragments(0x01, []byte("fragment1fragment2fragment3"), 9)[2]))
	// 6: UTF-8 in text messages (invalid text fails the connection, 1007).
	add("6.1.1", frames(frame(0x01, nil), frame(0x00, nil), frame(0x80, nil)))
	add("6.1.2", frames(frame(0x01, nil), frame(0x00, []byte("middle")), frame(0x80, nil)))
	hello := []byte("Hello-µ@ßöäüàá-UTF-8!!")
	add("6.2.1", frames(frame(0x81, hello)))
	add("6.2.2", fragments(0x01, hello, 1)) // split inside characters
	add("6.2.3", inPieces(1, frame(0x81, hello)))
	kosme := []byte("κόσμε")
	add("6.3.1", frames(frame(0x81, append(append([]byte{}, kosme...), 0xed, 0xa0, 0x80, 'e', 'd', 'i', 't', 'e', 'd'))))
	add("6.3.2", fragments(0x01, append(append([]byte{}, kosme...), 0xed, 0xa0, 0x80, 'e', 'd'), 1))
	add("6.4.1", frames(frame(0x01, append(append([]byte{}, kosme...), 0xf4, 0x90)), frame(0x80, []byte{0x80, 0x80, 'e', 'd'})))
	for i, s := range []string{"\u007f", "\u0080", "\u07ff", "\u0800", "\uffff", "\U00010000", "\U0010ffff", "\ue000", "\ufffd"} {
		add("6.5."+strconv.Itoa(i+1), frames(text(s)))
	}
	for i, b := range [][]byte{
		{0xf4, 0x90, 0x80, 0x80}, // above U+10FFFF
		{0xed, 0xa0, 0x80},       // a surrogate
		{0xc0, 0xaf},             // overlong '/'
		{0xe0, 0x80, 0xaf},       // overlong '/'
		{0xfe}, {0xff}, {0x80},   // never in UTF-8; a lone continuation byte
		{'a', 0xce}, // truncated at the end
		{0xf8, 0x88, 0x80, 0x80, 0x80},
	} {
		add("6.8."+strconv.Itoa(i+1), frames(frame(0x81, b)))
	}
	// 7: closing.
	add("7.1.1", frames(text("Hello"), closeWith(1000, "")))
	add("7.1.2", frames(closeWith(1000, ""), closeWith(1000, "")))
	add("7.1.3", frames(closeWith(1000, ""), ping("after close")))
	add("7.1.4", frames(closeWith(1000, ""), text("after close")))
	add("7.1.5", frames(frame(0x01, []byte("frag")), closeWith(1000, ""), frame(0x80, []byte("ment"))))
	add("7.1.6", frames(frame(0x81, filled(256<<10)), closeWith(1000, ""), ping("after close")))
	add("7.3.1", frames(frame(0x88, nil)))
	// A close body starts with a two-byte code (5.5.1): the gateway fails a
	// one-byte body with 1002; gorilla (and so a tunnel to it) reads it as
	// no code.
	add("7.3.2", frames(frame(0x88, []byte{0x03})), 1002)
	add("7.3.3", frames(closeWith(1000, "")))
	add("7.3.4", frames(closeWith(1000, "Hello World!")))
	add("7.3.5", frames(closeWith(1000, string(filled(123)))))
	add("7.3.6", frames(closeWith(1000, string(filled(124)))))
	// Invalid UTF-8 in the reason fails the connection (RFC 6455 8.1):
	// gorilla says 1002, the gateway 1007, the code RFC 6455 7.4.1 names
	// for data inconsistent with its type.
	add("7.5.1", frames(closeWith(1000, string(append(append([]byte{}, kosme...), 0xed, 0xa0, 0x80)))), 1007)
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 3999, 4000, 4999} {
		add("7.7."+strconv.Itoa(i+1), frames(closeWith(code, "")))
	}
	// Codes no endpoint may send: 1004-1006, 1015 and unassigned ones; 1014
	// is registered but a gateway's, refused as gorilla refuses it.
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1014, 1015, 1016, 1100, 2000, 2999} {
		add("7.9."+strconv.Itoa(i+1), frames(closeWith(code, "")))
	}
	// 9: larger messages (small sizes: the default max_message_bytes is 1 MiB).
	for i, n := range []int{64 << 10, 256 << 10, 768 << 10} {
		add("9.1."+strconv.Itoa(i+1), inPieces(16<<10, frame(0x81, filled(n))))
		add("9.2."+strconv.Itoa(i+1), inPieces(16<<10, frame(0x82, bytes.Repeat([]byte{0xab}, n))))
	}
	for i, n := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10} {
		add("9.3."+strconv.Itoa(i+1), oneWrite(fragments(0x01, filled(256<<10), n)...))
		add("9.4."+strconv.Itoa(i+1), oneWrite(fragments(0x02, bytes.Repeat([]byte{0xcd}, 256<<10), n)...))
	}
	// 10: the echo of a large message is a whole message, however framed.
	add("10.1.1", frames(frame(0x81, filled(65536))))
	add("10.1.2", oneWrite(fragments(0x02, bytes.Repeat([]byte{0x11}, 65536), 1300)...))
	return cs
}
