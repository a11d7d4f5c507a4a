package passthrough

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// The relay copies bytes as they arrive, several frames per write when
// several arrived together, and parses only frame headers: enough to know
// where frames end, so the gateway's own close frame always goes between
// two frames, and to stop at a malformed header.
//
// On a plain TCP source the pump reads the socket through syscall.RawConn
// until a read says EAGAIN (or EOF), then hands the source to the event
// loop (loop.go), or, off the loop, waits for readiness inside the same
// RawConn.Read call. The pump never takes a short read as "drained": Go's
// poller is edge-triggered and hides the event flags, so a FIN that arrived
// with the last data bytes signals once, and a pump that waited after the
// short read would never see it (the loop sees EPOLLRDHUP instead). Other
// sources (TLS) go through their bufio.Reader.

// relayBufferSize is a direction's read buffer while bytes flow. It goes
// back to the pool whenever the socket is drained, so an idle tunnel holds
// none.
const relayBufferSize = 16 << 10

var (
	// stallAfter bounds how long a write may block while the relay holds
	// its source socket inside RawConn.Read (a Close of that socket waits
	// for it). A write still blocked then is finished outside, where it
	// may take as long as the peer needs. Tests shorten it.
	stallAfter = 2 * time.Second
	// testHookStall, when set by a test, runs when a write stalled.
	testHookStall func()
)

var relayPool = sync.Pool{New: func() any {
	b := make([]byte, relayBufferSize)
	return &b
}}

// errSourceClosed: the source's close frame (its answer to the gateway's
// close) was read and dropped; nothing more may follow.
var errSourceClosed = errors.New("source sent its close frame")

// frameState tracks where the byte stream of one direction is.
type frameState struct {
	inFrame   bool
	opcode    byte
	remaining int64 // payload bytes of the current frame not yet seen

	fromClient bool // the client's frames: check's client rules apply
	extensions bool // an extension was negotiated (RSV bits may be set)
	// failed: the source broke a frame rule; the gateway closed both peers,
	// and what the source sends after (up to its close) is dropped.
	failed bool
	// closeDropped: a close frame was dropped while the gateway sent its
	// own (scan's dropClose); what follows is dropped too.
	closeDropped bool
}

// span is what one scan over received bytes decided: data[:write] goes to
// the destination, data[:consumed] is done with, then the flags apply.
type span struct {
	consumed  int
	write     int
	short     bool  // stopped at a partial header: data[consumed:] needs more bytes
	closeDone bool  // a forwarded close frame ends at write
	srcClosed bool  // a dropped close frame ends at consumed
	err       error // a malformed header at data[consumed:]
	// broke is a frame that breaks a rule (errFrameRule); its header ends
	// at consumed and it is skipped.
	broke error
}

// scan walks data from the current position. dropping: the gateway has
// sent its own close to the destination, frames are read and dropped.
// dropClose: the gateway is sending its own close to the destination, so
// a close frame (and whatever follows it) is dropped.
func (s *frameState) scan(data []byte, dropping, dropClose bool) span {
	dropping = dropping || s.failed || s.closeDropped
	p := 0
	var sp span
	for p < len(data) {
		if !s.inFrame {
			h, err := parseFrameHeader(data[p:])
			if errors.Is(err, errShortHeader) {
				sp.short = true
				break
			}
			if err != nil {
				sp.err = err
				break
			}
			s.inFrame, s.opcode, s.remaining = true, h.opcode, h.length
			if h.opcode == opClose && dropClose && !dropping {
				// What came before it goes; the close frame does not.
				sp.write, dropping, s.closeDropped = p, true, true
			}
			if err := h.check(s.fromClient, s.extensions); err != nil && !dropping {
				// Nothing of this frame is forwarded: the bytes before it
				// go, and the scan resumes past its header, dropping.
				s.failed = true
				sp.broke, sp.write = err, p
				sp.consumed = p + len(h.raw)
				return sp
			}
			p += len(h.raw)
		}
		n := min(s.remaining, int64(len(data)-p))
		p += int(n)
		s.remaining -= n
		if s.remaining > 0 {
			break
		}
		s.inFrame = false
		if s.opcode == opClose {
			if dropping {
				sp.srcClosed = true
			} else {
				sp.closeDone = true
			}
			break
		}
	}
	sp.consumed = p
	if !dropping {
		sp.write = p
	}
	return sp
}

// scanLocked scans data holding the direction's lock, taken at a frame
// boundary and kept until the next one.
func (d *direction) scanLocked(data []byte) span {
	if !d.held {
		d.acquire()
		d.held = true
	}
	return d.frames.scan(data, d.closeSent || d.t.afterClose.Load(), d.t.goingAway.Load())
}

// finish applies a span once its bytes are written.
func (d *direction) finish(sp span) error {
	if d.held && !d.frames.inFrame {
		d.release()
		d.held = false
	}
	switch {
	case sp.err != nil:
		return sp.err
	case sp.broke != nil:
		if d.held { // the broken frame is skipped: nothing of it goes out
			d.release()
			d.held = false
		}
		d.t.failConnection(d, sp.broke)
	case sp.srcClosed:
		return errSourceClosed
	case sp.closeDone:
		d.forwardedClose.Store(true)
		if d.other.forwardedClose.Load() {
			return errClosingHandshakeDone
		}
	}
	return nil
}

// writeFailed marks the destination broken after a failed write.
func (d *direction) writeFailed() {
	d.broken = true
	if d.held {
		d.release()
		d.held = false
	}
}

// relayBlocking forwards data with writes that may block.
func (d *direction) relayBlocking(data []byte) (rest []byte, err error) {
	for len(data) > 0 {
		sp := d.scanLocked(data)
		if sp.write > 0 {
			d.sendDeadline()
			if _, err := d.dst.Write(data[:sp.write]); err != nil {
				d.writeFailed()
				return nil, err
			}
		}
		if err := d.finish(sp); err != nil {
			return nil, err
		}
		data = data[sp.consumed:]
		if sp.short {
			return data, nil
		}
	}
	return nil, nil
}

// copyBuffered relays from the bufio.Reader (TLS sources, or tests' pipes):
// what it holds is scanned in place, no copy.
func (d *direction) copyBuffered() error {
	need := 1
	for {
		if _, err := d.src.Peek(need); err != nil {
			if need > 1 || d.frames.inFrame {
				return noEOF(err)
			}
			return err
		}
		data, _ := d.src.Peek(d.src.Buffered())
		rest, err := d.relayBlocking(data)
		if err != nil {
			return err
		}
		_, _ = d.src.Discard(len(data) - len(rest))
		need = len(rest) + 1
	}
}

// rawSource returns the socket under conn when bytes can be read straight
// from it: a *net.TCPConn reached through wrappers exposing NetConn (the
// gateway's own, which do not change what is read), never through TLS.
func rawSource(conn net.Conn) syscall.RawConn {
	if !rawsock.Supported {
		return nil
	}
	c := tcpConnUnder(conn, true)
	if c == nil {
		return nil
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// tcpConnUnder is the *net.TCPConn under conn's wrappers (those exposing
// NetConn, TLS's included unless stopAtTLS); nil when there is none.
func tcpConnUnder(conn net.Conn, stopAtTLS bool) *net.TCPConn {
	for range 8 {
		switch c := conn.(type) {
		case *net.TCPConn:
			return c
		case interface{ NetConn() net.Conn }:
			if stopAtTLS && isTLS(conn) {
				return nil
			}
			conn = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// copyRaw relays from the socket. Bytes the bufio.Reader already holds
// (sent right behind the handshake) go first.
func (d *direction) copyRaw() error {
	if n := d.src.Buffered(); n > 0 {
		data, _ := d.src.Peek(n)
		rest, err := d.relayBlocking(data)
		if err != nil {
			return err
		}
		d.pendingLen = copy(d.pending[:], rest)
	}
	d.src = nil // everything else comes from the socket
	defer d.leaveLoop()
	for {
		d.rerr = nil
		if err := d.raw.Read(d.onReadable); err != nil {
			d.putBuffer()
			return err
		}
		if d.loopTurn {
			// The loop has the source (and d's relay state) until it hands
			// it back (loop.go).
			d.loopTurn = false
			<-d.loop.wake
		}
		if !d.stalled {
			if d.rerr != nil {
				return d.rerr
			}
			continue
		}
		if err := d.finishStall(); err != nil {
			return err
		}
	}
}

// onReadable is the RawConn.Read callback: it reads and forwards until the
// socket is drained (false: wait for readiness, or true when the source
// was handed to the loop instead), or the relay ends or a write stalls
// (true).
func (d *direction) onReadable(fd uintptr) bool {
	for {
		data, n, err := d.readSource(fd)
		switch {
		case err == syscall.EAGAIN:
			d.putBuffer()
			handed, again := d.toLoop(fd)
			if again {
				continue
			}
			d.loopTurn = handed
			return handed
		case err != nil:
			d.rerr = os.NewSyscallError("read", err)
			d.putBuffer()
			return true
		case n == 0:
			d.rerr = io.EOF
			if len(data) > 0 || d.frames.inFrame {
				d.rerr = io.ErrUnexpectedEOF
			}
			d.putBuffer()
			return true
		}
		if done := d.relaySoft(data); done {
			if !d.stalled {
				d.putBuffer()
			}
			return true
		}
		// A short read does not mean drained: read again until EAGAIN or
		// EOF (readiness fires once for data and a FIN queued with it).
	}
}

// readSource makes one read of the source into d's buffer, behind the
// start of a frame header kept from the last read: data is what there is
// to relay, n what the read returned (0 with no error: EOF).
func (d *direction) readSource(fd uintptr) (data []byte, n int, err error) {
	if d.bufp == nil {
		d.bufp = relayPool.Get().(*[]byte)
	}
	buf := *d.bufp
	start := copy(buf, d.pending[:d.pendingLen])
	n, err = readNonBlocking(fd, buf[start:])
	for err == syscall.EINTR {
		n, err = readNonBlocking(fd, buf[start:])
	}
	if err == nil && n > 0 {
		d.pendingLen = 0
	}
	return buf[:start+n], n, err
}

// relaySoft forwards data from inside the read callback (the pump's or the
// loop's). Writes carry a deadline (stallAfter); one that runs into it
// leaves the callback with the rest saved in d.stall, to be finished by
// finishStall. On the loop it never waits: a lock held by an injector or a
// span the pump must act on goes into d.stall too. true: leave the
// callback (error in d.rerr, or stalled).
func (d *direction) relaySoft(data []byte) bool {
	for len(data) > 0 {
		if d.loop.inLoop && !d.held {
			if !d.mu.TryLock() { // an injector has it: the pump waits for it
				d.stallAt(span{}, nil, data)
				return true
			}
			d.held = true
		}
		sp := d.scanLocked(data)
		if d.loop.inLoop && sp.loopHandOff() {
			d.stallAt(sp, data[:sp.write], data[sp.consumed:])
			return true
		}
		if sp.write > 0 {
			n, err := d.writeInCallback(data[:sp.write])
			if err != nil {
				if err == errWouldBlock || isTimeout(err) {
					d.stallAt(sp, data[n:sp.write], data[sp.consumed:])
					if testHookStall != nil {
						testHookStall()
					}
					return true
				}
				d.writeFailed()
				d.rerr = err
				return true
			}
		}
		if err := d.finish(sp); err != nil {
			d.rerr = err
			return true
		}
		data = data[sp.consumed:]
		if sp.short {
			d.pendingLen = copy(d.pending[:], data)
			return false
		}
	}
	return false
}

// stallAt leaves a span and what follows it to finishStall, in the pump.
func (d *direction) stallAt(sp span, unwritten, after []byte) {
	d.stalled = true
	d.stall = stallState{span: sp, unwritten: unwritten, after: after}
}

// stallState is what a callback left for the pump: a write that ran into
// its deadline, or (on the loop) a span it must not finish itself.
type stallState struct {
	span      span
	unwritten []byte // of span's bytes
	after     []byte // received bytes past span
}

// finishStall completes a stalled write outside the read callback, within
// send_timeout (or the tunnel's grace), then forwards what was received
// after it.
func (d *direction) finishStall() error {
	st := d.stall
	d.stalled, d.stall = false, stallState{}
	defer d.putBuffer()
	d.sendDeadline()
	if len(st.unwritten) > 0 {
		if _, err := d.dst.Write(st.unwritten); err != nil {
			d.writeFailed()
			return err
		}
	}
	if err := d.finish(st.span); err != nil {
		return err
	}
	if st.span.short {
		d.pendingLen = copy(d.pending[:], st.after)
		return nil
	}
	rest, err := d.relayBlocking(st.after)
	if err != nil {
		return err
	}
	d.pendingLen = copy(d.pending[:], rest)
	return nil
}

// writeCounter is implemented by a connection wrapper that counts the bytes
// written through it (the gateway's access log), so that bytes written
// straight to the socket under it are counted too.
type writeCounter interface{ AddWritten(n int64) }

// useRawWrites lets the read callback write to the destination's socket
// directly when the source is read that way too and the destination is a
// plain socket, bare or under wrappers that expose it (NetConn, the
// convention hijacking handlers rely on) and count what is written past them.
func (d *direction) useRawWrites() {
	if d.raw == nil {
		return
	}
	rc := rawSource(d.dst)
	if rc == nil {
		return
	}
	if _, bare := d.dst.(*net.TCPConn); !bare {
		counter, ok := d.dst.(writeCounter)
		if !ok {
			return // a wrapper that must see every write
		}
		d.dstCounter = counter
	}
	d.dstRaw = rc
	d.tryWriteFn = d.tryWrite
}

// errWouldBlock: the destination socket takes no more bytes for now.
var errWouldBlock = errors.New("write would block")

// writeInCallback writes p from inside the read callback without blocking
// for long. A socket destination (useRawWrites) is written with a raw
// syscall: a full send buffer returns errWouldBlock at once, and no
// goroutine ever enters the scheduler's syscall state (which wakes the
// runtime's sysmon thread each time: a fifth of the gateway's CPU in the
// echo benchmark). Any other destination is written through its wrappers
// with a write deadline stallAfter ahead.
func (d *direction) writeInCallback(p []byte) (int, error) {
	if d.dstRaw == nil {
		d.refreshWriteDeadline()
		return d.dst.Write(p)
	}
	d.wbuf, d.wn, d.werr = p, 0, nil
	err := d.dstRaw.Write(d.tryWriteFn)
	n := d.wn
	if d.dstCounter != nil && n > 0 {
		d.dstCounter.AddWritten(int64(n))
	}
	if err == nil {
		err = d.werr
	}
	d.wbuf, d.werr = nil, nil
	return n, err
}

// tryWrite is the RawConn.Write callback of writeInCallback: it never
// waits for the socket.
func (d *direction) tryWrite(fd uintptr) bool {
	for d.wn < len(d.wbuf) {
		p := d.wbuf[d.wn:]
		n, e := rawsock.Write(fd, p)
		switch e {
		case 0:
			d.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			d.werr = errWouldBlock
			return true
		default:
			d.werr = os.NewSyscallError("write", e)
			return true
		}
	}
	return true
}

// refreshWriteDeadline keeps a write deadline about stallAfter ahead while
// the tunnel runs; once its grace started, the grace deadline stays.
func (d *direction) refreshWriteDeadline() {
	now := time.Now()
	if d.softUntil.Sub(now) > stallAfter/2 { // a timer update per second at most
		return
	}
	d.sendUntil = time.Time{}
	d.t.mu.Lock()
	if d.t.graceAt.IsZero() {
		d.softUntil = now.Add(stallAfter)
		_ = d.dst.SetWriteDeadline(d.softUntil)
	} else {
		d.softUntil = d.t.graceAt.Add(stallAfter) // never refresh again
	}
	d.t.mu.Unlock()
}

// sendDeadline puts a write deadline send_timeout ahead on dst before a
// write that may block (a peer that takes no bytes for that long ends the
// tunnel, like nginx's send_timeout). It moves the deadline only when it
// moved by a sixteenth (a timer update every few seconds); once the grace
// started, the grace deadline stays. Without send_timeout, writes outside
// the grace have no deadline.
func (d *direction) sendDeadline() {
	to := d.t.h.sendTimeout
	now := time.Now()
	if !d.sendUntil.IsZero() && d.sendUntil.Sub(now) > to-to/16 {
		return
	}
	d.softUntil = time.Time{}
	d.t.mu.Lock()
	defer d.t.mu.Unlock()
	switch {
	case !d.t.graceAt.IsZero():
		_ = d.dst.SetWriteDeadline(d.t.graceAt)
		d.sendUntil = d.t.graceAt.Add(to + time.Hour) // never move it again
	case to > 0:
		d.sendUntil = now.Add(to)
		_ = d.dst.SetWriteDeadline(d.sendUntil)
	default:
		_ = d.dst.SetWriteDeadline(time.Time{})
		d.sendUntil = now.Add(time.Hour) // nothing to refresh
	}
}

// readNonBlocking reads from a non-blocking socket. A raw syscall: it never
// blocks, so the scheduler need not hand the P off around it.
func readNonBlocking(fd uintptr, p []byte) (int, error) {
	n, e := rawsock.Read(fd, p)
	if e != 0 {
		return 0, e
	}
	return n, nil
}

func isTLS(conn net.Conn) bool {
	_, ok := conn.(*tls.Conn)
	return ok
}

func (d *direction) putBuffer() {
	if d.bufp != nil {
		relayPool.Put(d.bufp)
		d.bufp = nil
	}
}
