package wsframe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"
)

// Violation is what a frame broke.
type Violation uint8

const (
	ReservedBits       Violation = iota + 1 // Detail: the RSV bits
	MaskBit                                 // a client frame unmasked, a server frame masked
	UnknownOpcode                           // Detail: the opcode
	BadControl                              // a control frame fragmented or over 125 bytes
	StrayContinuation                       // a continuation with no message begun
	NestedMessage                           // a new data message inside a fragmented one
	LengthTopBit                            // a 64-bit length with its top bit set
	TooBig                                  // a message over the limit
	TextNotUTF8                             // client side only
	CloseOneByte                            // client side only
	BadCloseCode                            // Detail: the code
	CloseReasonNotUTF8                      // a close reason that is not UTF-8
)

// Error is a protocol violation: the connection is failed with close
// Code and Reason().
type Error struct {
	Kind   Violation
	Detail int
	Code   int
	side   Side
}

func (e *Error) Error() string {
	return "websocket frame: " + strconv.Itoa(e.Code) + " " + e.Reason()
}

// fail builds the answer to a violation: on the client side the RFC's
// code (1007 for bad UTF-8, 1009 for size, else 1002); on the server side
// gorilla's (1002 for all but size), so that a plain upstream is answered
// as gorilla answers a TLS one.
func (r *Reader) fail(kind Violation, detail int) error {
	code := websocket.CloseProtocolError
	switch {
	case kind == TooBig:
		code = websocket.CloseMessageTooBig
	case r.Side == Client && (kind == TextNotUTF8 || kind == CloseReasonNotUTF8):
		code = websocket.CloseInvalidFramePayloadData
	}
	return &Error{Kind: kind, Detail: detail, Code: code, side: r.Side}
}

// reasons are the close reasons, by Violation and Side. The client
// side's are the ones docs/protocol.md lists; the server side's are
// gorilla's words. A verb formats the Error's Detail.
var reasons = [...][2]string{
	ReservedBits:       {"reserved bits set", "unexpected reserved bits 0x%x"},
	MaskBit:            {"client frame not masked", "incorrect mask flag"},
	UnknownOpcode:      {"unknown opcode %d", "bad opcode %d"},
	BadControl:         {"fragmented or oversized control frame", "bad control frame"},
	StrayContinuation:  {"continuation without a message", "unexpected continuation frame"},
	NestedMessage:      {"new message inside a fragmented one", "message start before final message frame"},
	LengthTopBit:       {"frame length has the top bit set", "frame length has the top bit set"},
	TooBig:             {"message too big", ""}, // gorilla's 1009 carries no reason
	TextNotUTF8:        {"text message is not UTF-8", ""},
	CloseOneByte:       {"close payload of one byte", ""},
	BadCloseCode:       {"invalid close code", "bad close code %d"},
	CloseReasonNotUTF8: {"close reason is not UTF-8", "invalid utf8 payload in close frame"},
}

// Reason is the close frame's reason text.
func (e *Error) Reason() string {
	kind := e.Kind
	if e.side == Server && kind == UnknownOpcode && e.Detail&0x8 != 0 {
		kind = BadControl // gorilla checks control frames before opcodes
	}
	text := reasons[kind][e.side]
	if strings.Contains(text, "%") {
		return fmt.Sprintf(text, e.Detail)
	}
	return text
}
