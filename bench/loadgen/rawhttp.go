package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"net/url"
	"strconv"
)

// rawClient is a minimal HTTP/1.1 keep-alive client for long-pollers. Ten
// thousand pollers through net/http cost the generator more CPU than the
// server under test spends; this one writes a request with one syscall and
// parses the answer in place, so the measurement is not the client's.
type rawClient struct {
	addr string // host:port
	host string // Host header
	path string // request path of the base URL

	dialer *net.Dialer
	conn   net.Conn
	br     *bufio.Reader
	stop   func() bool
	req    []byte
}

// rawResponse is the part of an answer the pollers use.
type rawResponse struct {
	status       int
	lastModified []byte
	etag         []byte
	body         []byte
}

// newRawClient makes a client for rawURL that dials with d (nil: the
// default dialer, from any local address).
func newRawClient(rawURL string, d *net.Dialer) (*rawClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rawhttp: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("rawhttp: only http:// URLs, got %q", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr += ":80"
	}
	if d == nil {
		d = newNetDialer(nil)
	}
	return &rawClient{addr: addr, host: u.Host, path: u.RequestURI(), dialer: d}, nil
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.stop()
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawClient) connect(ctx context.Context) error {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	c.conn = conn
	c.stop = context.AfterFunc(ctx, func() { conn.Close() })
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 2048)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

// get sends GET path+query with extra headers ("Name: value" pairs) and
// reads the whole answer into resp (reusing its buffers). A kept-alive
// connection that the server closed meanwhile is redialled once.
func (c *rawClient) get(ctx context.Context, query []byte, headers []string, resp *rawResponse) error {
	c.req = append(c.req[:0], "GET "...)
	c.req = append(c.req, c.path...)
	if len(query) > 0 {
		c.req = append(c.req, '?')
		c.req = append(c.req, query...)
	}
	c.req = append(c.req, " HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, c.host...)
	c.req = append(c.req, "\r\nUser-Agent: bridgeway-bench\r\n"...)
	for i := 0; i+1 < len(headers); i += 2 {
		c.req = append(c.req, headers[i]...)
		c.req = append(c.req, ": "...)
		c.req = append(c.req, headers[i+1]...)
		c.req = append(c.req, "\r\n"...)
	}
	c.req = append(c.req, "\r\n"...)
	for attempt := 0; ; attempt++ {
		reused := c.conn != nil
		if !reused {
			if err := c.connect(ctx); err != nil {
				return fmt.Errorf("rawhttp: dial: %w", err)
			}
		}
		err := c.roundTrip(resp)
		if err == nil {
			return nil
		}
		c.close()
		if !reused || attempt > 0 || ctx.Err() != nil || !errors.Is(err, errConnReused) {
			return err
		}
	}
}

// errConnReused marks a failure before any answer byte on a reused
// connection: the server closed it while idle, so a retry is safe.
var errConnReused = errors.New("rawhttp: connection closed before the answer")

func (c *rawClient) roundTrip(resp *rawResponse) error {
	if _, err := c.conn.Write(c.req); err != nil {
		return fmt.Errorf("%w: %v", errConnReused, err)
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 {
			return fmt.Errorf("%w: %v", errConnReused, err)
		}
		return fmt.Errorf("rawhttp: status line: %w", err)
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return fmt.Errorf("rawhttp: bad status line %q", line)
	}
	status, ok := parseUint(line[9:12])
	if !ok {
		return fmt.Errorf("rawhttp: bad status line %q", line)
	}
	resp.status = int(status)
	resp.lastModified, resp.etag = resp.lastModified[:0], resp.etag[:0]
	contentLength, chunked, closeAfter := -1, false, false
	for {
		line, err := readLine(c.br)
		if err != nil {
			return fmt.Errorf("rawhttp: headers: %w", err)
		}
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, ok := parseUint(value)
			if !ok {
				return fmt.Errorf("rawhttp: bad Content-Length %q", value)
			}
			contentLength = int(n)
		case asciiEqualFold(name, "Transfer-Encoding"):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case asciiEqualFold(name, "Connection"):
			closeAfter = bytes.EqualFold(value, []byte("close"))
		case asciiEqualFold(name, "Last-Modified"):
			resp.lastModified = append(resp.lastModified, value...)
		case asciiEqualFold(name, "Etag"):
			resp.etag = append(resp.etag, value...)
		}
	}
	resp.body = resp.body[:0]
	switch {
	case resp.status == 204 || resp.status == 304 || resp.status/100 == 1:
	case chunked:
		if resp.body, err = readAllInto(resp.body, httputil.NewChunkedReader(c.br)); err != nil {
			return fmt.Errorf("rawhttp: chunked body: %w", err)
		}
		for { // trailer lines up to the empty one
			line, err := readLine(c.br)
			if err != nil {
				return fmt.Errorf("rawhttp: trailer: %w", err)
			}
			if len(line) == 0 {
				break
			}
		}
	case contentLength >= 0:
		if contentLength > 16<<20 {
			return fmt.Errorf("rawhttp: body of %d bytes", contentLength)
		}
		if cap(resp.body) < contentLength {
			resp.body = make([]byte, 0, contentLength)
		}
		resp.body = resp.body[:contentLength]
		if _, err := io.ReadFull(c.br, resp.body); err != nil {
			return fmt.Errorf("rawhttp: body: %w", err)
		}
	default: // delimited by close
		if resp.body, err = readAllInto(resp.body, io.LimitReader(c.br, 16<<20)); err != nil {
			return fmt.Errorf("rawhttp: body: %w", err)
		}
		closeAfter = true
	}
	if closeAfter {
		c.close()
	}
	return nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// statusText gives an error for an unexpected answer.
func (r *rawResponse) statusError() error {
	body := r.body
	if len(body) > 300 {
		body = body[:300]
	}
	return fmt.Errorf("status %s: %s", strconv.Itoa(r.status), bytes.TrimSpace(body))
}
