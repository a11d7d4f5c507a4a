package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// The push subscribers (SSE and WebSocket over http://) read their socket
// directly: one read of up to rawReadSize bytes takes everything the server
// wrote, and messages are parsed in place (no net/http body reader, no
// gorilla, no per-message allocation), with the clock read once per read.
// At hundreds of thousands of deliveries a second on shared cores the
// generator's own cost otherwise decides what is measured.

// rawReadSize is each push subscriber's read buffer: big enough that a
// burst the server wrote in one go is read in one syscall.
const rawReadSize = 16 << 10

// maxRawMessage bounds one message (a WebSocket frame or an SSE event).
const maxRawMessage = 1 << 20

// wsClientKey is any base64 16-byte nonce; the server's answer is not
// checked beyond its status (the generator trusts the server under test).
const wsClientKey = "dGhlIHNhbXBsZSBub25jZQ=="

// dialPush dials the subscriber URL, sends a GET with the given extra
// header lines and reads the answer's head. It returns the connection, a
// reader positioned at the body, and whether the body is chunked.
func dialPush(ctx context.Context, d *net.Dialer, rawURL string, extra string, wantStatus int) (net.Conn, *bufio.Reader, bool, error) {
	c, err := newRawClient(rawURL, d)
	if err != nil {
		return nil, nil, false, err
	}
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, nil, false, fmt.Errorf("dial: %w", err)
	}
	req := "GET " + c.path + " HTTP/1.1\r\nHost: " + c.host + "\r\nUser-Agent: bridgeway-bench\r\n" + extra + "\r\n"
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, nil, false, fmt.Errorf("request: %w", err)
	}
	br := bufio.NewReaderSize(conn, 4096)
	line, err := readLine(br)
	if err != nil {
		conn.Close()
		return nil, nil, false, fmt.Errorf("status line: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		conn.Close()
		return nil, nil, false, fmt.Errorf("bad status line %q", line)
	}
	status, _ := parseUint(line[9:12])
	chunked := false
	for {
		line, err := readLine(br)
		if err != nil {
			conn.Close()
			return nil, nil, false, fmt.Errorf("headers: %w", err)
		}
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		if asciiEqualFold(name, "Transfer-Encoding") {
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		}
	}
	if int(status) != wantStatus {
		body := make([]byte, 300)
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := br.Read(body)
		conn.Close()
		return nil, nil, false, fmt.Errorf("status %d: %s", status, bytes.TrimSpace(body[:n]))
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, br, chunked, nil
}

// runRawSSE is runSSE over its own socket.
func (e *subscriberEnv) runRawSSE(ctx context.Context, t *tracker, ready func()) error {
	conn, br, chunked, err := dialPush(ctx, e.netDialer, e.urlFor(TransportSSE), "Accept: text/event-stream\r\n", 200)
	if err != nil {
		return fmt.Errorf("sse: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	t.markConnected()
	ready()
	p := &sseParser{t: t}
	var dc dechunker
	buf := make([]byte, rawReadSize)
	for {
		n, err := br.Read(buf) // buffered head bytes first, then straight from the socket
		if n > 0 {
			p.now = time.Now()
			body := buf[:n]
			if chunked {
				err2 := dc.feed(body, p.feed)
				if err2 == nil && dc.done {
					err2 = io.EOF
				}
				if err2 == nil {
					err2 = p.err
				}
				if err2 != nil {
					t.flushLive()
					return fmt.Errorf("sse: %w", err2)
				}
			} else {
				p.feed(body)
				if p.err != nil {
					t.flushLive()
					return fmt.Errorf("sse: %w", p.err)
				}
			}
			t.flushLive()
		}
		if err != nil {
			return fmt.Errorf("sse: read: %w", err)
		}
	}
}

// dechunker decodes HTTP/1.1 chunked encoding as it streams in.
type dechunker struct {
	remain int  // payload bytes left in the current chunk
	inSize bool // reading a size line (after the first byte of it)
	size   int
	inExt  bool // past the digits: skipping to LF
	crlf   int  // bytes of the CRLF after a chunk's payload still to skip
	done   bool // the last chunk was read
}

func (d *dechunker) feed(p []byte, out func([]byte)) error {
	for len(p) > 0 && !d.done {
		switch {
		case d.remain > 0:
			n := min(d.remain, len(p))
			out(p[:n])
			d.remain -= n
			p = p[n:]
			if d.remain == 0 {
				d.crlf = 2
			}
		case d.crlf > 0:
			c := p[0]
			p = p[1:]
			if c == '\n' {
				d.crlf = 0
			} else if c != '\r' {
				return errors.New("chunked: no CRLF after a chunk")
			}
		default: // size line
			c := p[0]
			p = p[1:]
			switch {
			case c == '\n':
				if !d.inSize {
					return errors.New("chunked: empty size line")
				}
				if d.size == 0 {
					d.done = true
					return nil
				}
				d.remain, d.size, d.inSize, d.inExt = d.size, 0, false, false
			case d.inExt || c == '\r':
				d.inExt = true
			case c == ';' || c == ' ':
				d.inExt = true
			default:
				v, ok := hexVal(c)
				if !ok {
					return fmt.Errorf("chunked: bad size byte %q", c)
				}
				if d.size > maxRawMessage*16 {
					return errors.New("chunked: chunk too large")
				}
				d.size = d.size<<4 | v
				d.inSize = true
			}
		}
	}
	return nil
}

func hexVal(c byte) (int, bool) {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0'), true
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// sseParser splits an event stream into events, as runSSE does.
type sseParser struct {
	t       *tracker
	now     time.Time
	partial []byte // a line cut by the end of a read
	data    []byte
	event   []byte
	hasData bool
	err     error
}

// feed takes the next body bytes; lines complete in p are parsed in place.
func (p *sseParser) feed(b []byte) {
	for len(b) > 0 && p.err == nil {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(p.partial)+len(b) > maxRawMessage {
				p.err = errors.New("line too long")
				return
			}
			p.partial = append(p.partial, b...)
			return
		}
		line := b[:i]
		b = b[i+1:]
		if len(p.partial) > 0 {
			p.partial = append(p.partial, line...)
			line = p.partial
		}
		p.line(bytes.TrimSuffix(line, []byte("\r")))
		p.partial = p.partial[:0]
	}
}

func (p *sseParser) line(line []byte) {
	switch {
	case len(line) == 0: // end of event
		if p.hasData {
			switch string(p.event) {
			case "", "message":
				p.t.record(p.data, p.now)
			case "gap":
				p.t.gaps++
			case "close":
				p.err = fmt.Errorf("server closed the stream: %s", p.data)
			}
		}
		p.data, p.event, p.hasData = p.data[:0], p.event[:0], false
	case line[0] == ':': // comment / heartbeat
	case bytes.HasPrefix(line, []byte("data:")):
		if p.hasData {
			p.data = append(p.data, '\n')
		}
		if len(p.data)+len(line) > maxRawMessage {
			p.err = errors.New("event too long")
			return
		}
		p.data = append(p.data, trimField(line[5:])...)
		p.hasData = true
	case bytes.HasPrefix(line, []byte("event:")):
		p.event = append(p.event[:0], trimField(line[6:])...)
	}
}

// wsUpgradeHeader asks dialPush's request for a WebSocket.
const wsUpgradeHeader = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsClientKey + "\r\n"

// runRawWebSocket is runWebSocket over its own socket: server frames are
// parsed in place; pings are answered, a close frame ends the subscriber.
func (e *subscriberEnv) runRawWebSocket(ctx context.Context, t *tracker, ready func()) error {
	u := strings.Replace(e.urlFor(TransportWebSocket), "ws://", "http://", 1)
	conn, br, _, err := dialPush(ctx, e.netDialer, u, wsUpgradeHeader, 101)
	if err != nil {
		return fmt.Errorf("websocket: dial: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	r := &wsReader{t: t, conn: conn, buf: make([]byte, rawReadSize)}
	if e.wsHello != "" {
		if err := r.send(0x1, []byte(e.wsHello)); err != nil {
			return fmt.Errorf("websocket: hello: %w", err)
		}
	}
	t.markConnected()
	ready()
	// Bytes the head's reader already holds come first.
	r.end = copy(r.buf, peekBuffered(br))
	for {
		if err := r.parse(); err != nil {
			t.flushLive()
			return fmt.Errorf("websocket: %w", err)
		}
		t.flushLive()
		if r.end == len(r.buf) {
			if len(r.buf) >= maxRawMessage+14 {
				return errors.New("websocket: frame too large")
			}
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		n, err := conn.Read(r.buf[r.end:])
		r.end += n
		r.now = time.Now()
		if err != nil {
			if n > 0 {
				_ = r.parse()
				t.flushLive()
			}
			return fmt.Errorf("websocket: read: %w", err)
		}
	}
}

// peekBuffered returns what br holds without reading the socket.
func peekBuffered(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}

// wsReader holds unparsed bytes at the start of buf (up to end).
type wsReader struct {
	t    *tracker
	conn net.Conn
	now  time.Time
	buf  []byte
	end  int
	frag []byte // a fragmented message so far
	out  []byte // a control frame to send
}

// parse consumes every whole frame in buf[:end] and moves the rest to the
// front.
func (r *wsReader) parse() error {
	b := r.buf[:r.end]
	for {
		if len(b) < 2 {
			break
		}
		fin, op := b[0]&0x80 != 0, b[0]&0x0f
		masked := b[1]&0x80 != 0
		size, hl := int(b[1]&0x7f), 2
		switch size {
		case 126:
			if len(b) < 4 {
				goto short
			}
			size, hl = int(b[2])<<8|int(b[3]), 4
		case 127:
			if len(b) < 10 {
				goto short
			}
			var n uint64
			for _, c := range b[2:10] {
				n = n<<8 | uint64(c)
			}
			if n > maxRawMessage {
				return fmt.Errorf("frame of %d bytes", n)
			}
			size, hl = int(n), 10
		}
		if masked {
			return errors.New("masked server frame")
		}
		if len(b) < hl+size {
			goto short
		}
		payload := b[hl : hl+size]
		b = b[hl+size:]
		if err := r.frame(fin, op, payload); err != nil {
			return err
		}
	}
short:
	r.end = copy(r.buf, b)
	return nil
}

func (r *wsReader) frame(fin bool, op byte, payload []byte) error {
	switch op {
	case 0x1, 0x2, 0x0: // text, binary, continuation
		if !fin || len(r.frag) > 0 {
			if len(r.frag)+len(payload) > maxRawMessage {
				return errors.New("message too large")
			}
			r.frag = append(r.frag, payload...)
			if !fin {
				return nil
			}
			payload = r.frag
		}
		r.t.record(payload, r.now)
		r.frag = r.frag[:0]
	case 0x9: // ping: answer with a pong carrying the same payload
		return r.send(0xA, payload)
	case 0x8: // close: answer it, and the subscriber ends
		_ = r.send(0x8, payload[:min(len(payload), 2)])
		return fmt.Errorf("server closed: %q", payload)
	}
	return nil
}

// send writes one masked client frame (mask key 0: payload unchanged).
func (r *wsReader) send(op byte, payload []byte) error {
	if len(payload) > 0xffff {
		return errors.New("client frame too large")
	}
	if len(payload) < 126 {
		r.out = append(r.out[:0], 0x80|op, 0x80|byte(len(payload)))
	} else {
		r.out = append(r.out[:0], 0x80|op, 0x80|126, byte(len(payload)>>8), byte(len(payload)))
	}
	r.out = append(r.out, 0, 0, 0, 0)
	r.out = append(r.out, payload...)
	_ = r.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := r.conn.Write(r.out)
	return err
}
