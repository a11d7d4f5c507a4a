package bridge

import (
	"io"
	"net"
	"time"
)

// Ending a WebSocket without a reset: closing a socket that holds unread
// bytes sends an RST, and a client that gets one may lose our close frame
// before it reads it. So our side is shut first (the client reads the
// close frame, then EOF) and what the client still sends is read and
// dropped until it closes too, or closeLinger passes.

// closeLinger bounds how long a closing connection is read (and what is
// read dropped) after our FIN.
const closeLinger = 2 * time.Second

// lingerClose reads and drops what the client still sends, until it closes
// or closeLinger passes. The caller shut the sending side and closes conn.
func lingerClose(conn net.Conn) {
	if conn.SetReadDeadline(time.Now().Add(closeLinger)) != nil {
		return
	}
	_, _ = io.Copy(io.Discard, conn)
}

// shutWrite sends our FIN (on TLS, close_notify; a blocked write fails at
// once, as on close); false when conn cannot half-close.
func shutWrite(conn net.Conn) bool {
	cw, ok := conn.(interface{ CloseWrite() error })
	return ok && cw.CloseWrite() == nil
}

// lingerAfterClose ends conn after our close frame went out, whether or not
// the closing handshake is complete: our side is shut at once (the client
// sees the server close first, RFC 6455 7.1.1), and lingerClose reads what
// the client still sends (a frame after its close, the rest of a bad one)
// so that closing never resets the connection over our close frame.
func lingerAfterClose(conn net.Conn) {
	if shutWrite(bareConn(conn)) {
		lingerClose(conn)
	}
}
