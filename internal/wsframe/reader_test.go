package wsframe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// frame is one frame with a 7-bit or 64-bit length (declared, the payload
// may be shorter); masked adds a zero key, so the payload reads as sent.
func frame(b0 byte, declared uint64, payload []byte, masked bool) []byte {
	var m byte
	if masked {
		m = 0x80
	}
	f := []byte{b0}
	if declared < 126 {
		f = append(f, m|byte(declared))
	} else {
		f = binary.BigEndian.AppendUint64(append(f, m|127), declared)
	}
	if masked {
		f = append(f, 0, 0, 0, 0)
	}
	return append(f, payload...)
}

// answer is what a side answers to one input: a violation's close code
// and reason, or (code 0) the control frame or message that passed.
type answer struct {
	code   int
	reason string
	op     int
}

// read runs side's reader over the frames that build(masked) returns,
// masked as that side's peer masks.
func read(t *testing.T, side Side, build func(masked bool) []byte) answer {
	t.Helper()
	r := &Reader{Side: side}
	src := bytes.NewReader(build(side == Client))
	for {
		f, ok, err := r.ReadFrame(src, 16)
		var fe *Error
		switch {
		case errors.As(err, &fe):
			return answer{code: fe.Code, reason: fe.Reason()}
		case err != nil:
			t.Fatalf("side %d: %v", side, err)
		case ok:
			return answer{op: f.Op}
		}
	}
}

// TestViolationAnswers: each violation gets the same close code and reason
// as before the two readers became one: the client side's listed in
// docs/protocol.md (1002, 1007 for bad UTF-8, 1009), the server side's
// gorilla's words (1002 for all but 1009, which has no reason). Text that
// is not UTF-8 and a one-byte close payload pass on the server side, as
// gorilla lets them.
func TestViolationAnswers(t *testing.T) {
	one := func(b0 byte, payload []byte) func(bool) []byte {
		return func(m bool) []byte { return frame(b0, uint64(len(payload)), payload, m) }
	}
	cases := []struct {
		name           string
		build          func(masked bool) []byte
		client, server answer
	}{
		{"RSV1", one(0xc1, nil), answer{1002, "reserved bits set", 0}, answer{1002, "unexpected reserved bits 0x40", 0}},
		{"mask bit of the other side", func(m bool) []byte { return frame(0x81, 2, []byte("hi"), !m) },
			answer{1002, "client frame not masked", 0}, answer{1002, "incorrect mask flag", 0}},
		{"data opcode 3", one(0x83, nil), answer{1002, "unknown opcode 3", 0}, answer{1002, "bad opcode 3", 0}},
		{"control opcode 11", one(0x8b, nil), answer{1002, "unknown opcode 11", 0}, answer{1002, "bad control frame", 0}},
		{"ping over 125 bytes", func(m bool) []byte { return frame(0x89, 126, make([]byte, 126), m) },
			answer{1002, "fragmented or oversized control frame", 0}, answer{1002, "bad control frame", 0}},
		{"fragmented ping", one(0x09, []byte("x")), answer{1002, "fragmented or oversized control frame", 0}, answer{1002, "bad control frame", 0}},
		{"continuation first", one(0x80, []byte("x")), answer{1002, "continuation without a message", 0}, answer{1002, "unexpected continuation frame", 0}},
		{"message inside a message", func(m bool) []byte { return append(frame(0x01, 1, []byte("a"), m), frame(0x81, 1, []byte("b"), m)...) },
			answer{1002, "new message inside a fragmented one", 0}, answer{1002, "message start before final message frame", 0}},
		{"length top bit", func(m bool) []byte { return frame(0x82, 1<<63, nil, m) },
			answer{1002, "frame length has the top bit set", 0}, answer{1002, "frame length has the top bit set", 0}},
		{"over the limit across fragments", func(m bool) []byte {
			return append(frame(0x02, 10, make([]byte, 10), m), frame(0x80, 7, make([]byte, 7), m)...)
		}, answer{1009, "message too big", 0}, answer{1009, "", 0}},
		{"text not UTF-8", one(0x81, []byte{'o', 0xff}), answer{1007, "text message is not UTF-8", 0}, answer{op: 1}},
		{"close of one byte", one(0x88, []byte{3}), answer{1002, "close payload of one byte", 0}, answer{op: 8}},
		{"close code 1005", one(0x88, []byte{0x03, 0xed}), answer{1002, "invalid close code", 0}, answer{1002, "bad close code 1005", 0}},
		{"close reason not UTF-8", one(0x88, []byte{0x03, 0xe8, 0xff}), answer{1007, "close reason is not UTF-8", 0}, answer{1002, "invalid utf8 payload in close frame", 0}},
		{"fine close", one(0x88, []byte{0x0f, 0xa1, 'o', 'k'}), answer{op: 8}, answer{op: 8}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := read(t, Client, tc.build); got != tc.client {
				t.Errorf("client side %+v, want %+v", got, tc.client)
			}
			if got := read(t, Server, tc.build); got != tc.server {
				t.Errorf("server side %+v, want %+v", got, tc.server)
			}
		})
	}
}

// TestSpareStorage: a message starts in the storage Reuse gave, which is
// Unused until then (a control frame leaves it so) and not after.
func TestSpareStorage(t *testing.T) {
	spare := make([]byte, 0, 64)
	r := &Reader{}
	r.Reuse(spare)
	src := bytes.NewReader(append(frame(0x89, 1, []byte("p"), true), frame(0x81, 2, []byte("hi"), true)...))
	if f, ok, err := r.ReadFrame(src, 64); err != nil || !ok || f.Op != 9 {
		t.Fatalf("ping: %+v %v %v", f, ok, err)
	}
	if u := r.Unused(); cap(u) != 64 {
		t.Fatalf("after a ping the spare is %d bytes of capacity, want 64", cap(u))
	}
	f, ok, err := r.ReadFrame(src, 64)
	if err != nil || !ok || string(f.Payload) != "hi" || &f.Payload[:1][0] != &spare[:1][0] {
		t.Fatalf("message %q %v %v, want hi in the spare", f.Payload, ok, err)
	}
	if r.Unused() != nil {
		t.Fatal("the spare is still offered after a message used it")
	}
}
