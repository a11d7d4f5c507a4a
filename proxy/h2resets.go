package proxy

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"
)

// HTTP/2 rapid reset (CVE-2023-44487): a client opens streams and resets
// them at once, so each costs the gateway a request (and maybe upstream
// work) and the client nothing. Go's HTTP/2 server neither limits nor
// reports client RST_STREAM frames, so the HTTPS listener serves h2 through
// x/net's http2.Server on a resetLimitConn, which reads the frame headers
// as they pass. Past limits.http2_max_resets resets within resetWindow it
// sends GOAWAY (ENHANCE_YOUR_CALM) itself, at a frame boundary of what the
// server wrote, and ends the connection.
const (
	resetWindow    = 10 * time.Second
	lingerOnGoAway = time.Second // reading after GOAWAY, so a close does not reset it away
	h2FrameRST     = 0x3
	h2FrameHeaders = 0x1
	h2FrameGoAway  = 0x7
	h2CodeCalm     = 0xb // ENHANCE_YOUR_CALM
	h2PrefaceLen   = 24  // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
)

var errTooManyResets = errors.New("http2: too many stream resets from the client")

type resetLimitConn struct {
	net.Conn
	tc      *tls.Conn
	max     int
	onLimit func()

	// Read side: only the server's frame reader reads.
	in          frameScanner
	resets      int
	windowStart time.Time
	lastStream  uint32 // highest stream the client opened

	// Write side: the server's writes are passed on up to the last whole
	// frame, so the wire is always at a frame boundary for the GOAWAY.
	wmu      sync.Mutex
	out      frameScanner
	held     []byte // the start of a frame not yet complete
	goneAway bool
}

func newResetLimitConn(c *tls.Conn, max int, onLimit func()) *resetLimitConn {
	return &resetLimitConn{Conn: c, tc: c, max: max, onLimit: onLimit, in: frameScanner{skip: h2PrefaceLen}}
}

// ConnectionState lets the h2 server check and report the TLS session.
func (c *resetLimitConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

func (c *resetLimitConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	over := false
	c.in.scan(b[:n], func(h *[9]byte) {
		stream := binary.BigEndian.Uint32(h[5:]) & 0x7fffffff
		switch h[3] {
		case h2FrameHeaders:
			c.lastStream = max(c.lastStream, stream)
		case h2FrameRST:
			now := time.Now()
			if now.Sub(c.windowStart) > resetWindow {
				c.windowStart, c.resets = now, 0
			}
			c.resets++
			over = over || c.resets > c.max
		}
	})
	if over {
		c.goAway()
		return 0, errTooManyResets
	}
	return n, err
}

// goAway writes GOAWAY (ENHANCE_YOUR_CALM) and stops the server's writes,
// then reads for a moment so the close that follows does not turn into a
// reset that makes the client drop the GOAWAY unread.
func (c *resetLimitConn) goAway() {
	c.wmu.Lock()
	if !c.goneAway {
		c.goneAway = true
		frame := make([]byte, 9+8)
		frame[2], frame[3] = 8, h2FrameGoAway
		binary.BigEndian.PutUint32(frame[9:], c.lastStream)
		binary.BigEndian.PutUint32(frame[13:], h2CodeCalm)
		_ = c.Conn.SetWriteDeadline(time.Now().Add(lingerOnGoAway))
		_, _ = c.Conn.Write(frame)
	}
	c.wmu.Unlock()
	if c.onLimit != nil {
		c.onLimit()
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(lingerOnGoAway))
	buf := make([]byte, 4<<10)
	for {
		if _, err := c.Conn.Read(buf); err != nil {
			return
		}
	}
}

func (c *resetLimitConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.goneAway {
		return 0, errTooManyResets
	}
	boundary := c.out.scan(b, nil)
	if boundary < 0 { // still inside one frame
		c.held = append(c.held, b...)
		return len(b), nil
	}
	out := b[:boundary]
	if len(c.held) > 0 {
		out = append(c.held, out...)
	}
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	c.held = append(c.held[:0], b[boundary:]...)
	return len(b), nil
}

// frameScanner follows HTTP/2 frame boundaries in a byte stream.
type frameScanner struct {
	skip int // bytes left of the preface or of the current payload
	hdr  [9]byte
	hdrN int
}

// scan feeds b, calls onHeader for every frame header completed in it and
// returns the offset in b just after the last frame that ended in b (-1
// when none did).
func (s *frameScanner) scan(b []byte, onHeader func(*[9]byte)) int {
	last := -1
	for i := 0; i < len(b); {
		if s.skip > 0 {
			n := min(s.skip, len(b)-i)
			s.skip -= n
			i += n
		} else {
			n := copy(s.hdr[s.hdrN:], b[i:])
			s.hdrN += n
			i += n
			if s.hdrN < len(s.hdr) {
				continue
			}
			s.hdrN = 0
			s.skip = int(s.hdr[0])<<16 | int(s.hdr[1])<<8 | int(s.hdr[2])
			if onHeader != nil {
				onHeader(&s.hdr)
			}
		}
		if s.skip == 0 && s.hdrN == 0 {
			last = i
		}
	}
	return last
}
