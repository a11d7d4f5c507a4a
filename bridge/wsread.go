package bridge

import (
	"errors"
	"io"

	"github.com/bridgeway/bridgeway/internal/wsframe"
)

// wsFrameReader reads a client's WebSocket frames (internal/wsframe, the
// client side: masked frames, UTF-8 text) on every bridged WebSocket, so
// all of them answer the same bytes the same way (gorilla only writes on
// session routes). Broadcast subscribers on the fan-out read straight from
// the socket: gorilla's reader parks deep in its own stack with a read
// buffer per connection; this one parks in a two-byte read with a shallow
// stack and holds no buffer between messages, which is most of an idle
// subscriber's memory.
type wsFrameReader struct {
	r     io.Reader
	limit int64 // max_message_bytes for one (possibly fragmented) message
	// spare, when set, is storage the next data message starts in (a
	// pooled buffer: the caller takes it back with the message); inMsg
	// reports a fragmented message using it.
	spare []byte
	inMsg bool
	fr    wsframe.Reader
}

// wsFrameError is a protocol violation: the connection is failed with
// code and reason (1002, 1007 or 1009).
type wsFrameError struct {
	code   int
	reason string
}

// wsFrame is one frame or message handed to the caller: a whole data
// message (op text/binary), or a control frame (close, ping, pong).
type wsFrame struct {
	op      int
	payload []byte
}

// next returns the next control frame or complete data message. Errors are
// the socket's (io.EOF, a deadline) or a violation (isFrameError).
func (r *wsFrameReader) next() (wsFrame, error) {
	r.fr.Reuse(r.spare)
	for {
		f, ok, err := r.fr.ReadFrame(r.r, r.limit)
		if err != nil || ok {
			r.spare, r.inMsg = r.fr.Unused(), r.fr.InMessage()
			return wsFrame{op: f.Op, payload: f.Payload}, err
		}
	}
}

// isFrameError reports a protocol violation and its close frame payload.
func isFrameError(err error) (*wsFrameError, bool) {
	var fe *wsframe.Error
	if !errors.As(err, &fe) {
		return nil, false
	}
	return &wsFrameError{code: fe.Code, reason: fe.Reason()}, true
}
