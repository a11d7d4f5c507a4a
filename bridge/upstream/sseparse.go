package upstream

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event is one dispatched server-sent event.
type Event struct {
	// Type is the event type; "message" when the stream gave none.
	Type string
	// Data is the data buffer, lines joined with "\n".
	Data []byte
	// ID is the stream's last event ID when the event was dispatched (it
	// persists across events, as in EventSource's lastEventId).
	ID string
}

// ErrSSELineTooLong is returned when a line or an event exceeds the limit.
var ErrSSELineTooLong = errors.New("upstream: sse line or event too long")

var utf8BOM = []byte("\xEF\xBB\xBF")

// DefaultSSEMaxBytes bounds one line and one event's data by default.
const DefaultSSEMaxBytes = 1 << 20

// SSEParser reads events from a text/event-stream body following the WHATWG
// "event stream interpretation" rules: a leading BOM is skipped; lines end
// in CRLF, LF or CR; ":" starts a comment; "data" lines are joined with
// "\n"; an "id" containing NUL is ignored; "retry" is honoured only when it
// is all ASCII digits; a blank line dispatches the event unless its data
// buffer is empty; an unfinished event at end of stream is dropped.
// Invalid UTF-8 is replaced with U+FFFD, as a UTF-8 decoder would.
type SSEParser struct {
	r        io.Reader
	buf      []byte // read buffer; buf[start:end] is unread
	start    int
	end      int
	eof      error
	maxBytes int

	bomChecked bool
	skipLF     bool // the previous line ended in CR: a leading LF belongs to it

	data        []byte
	eventType   string
	idBuffer    string
	lastEventID string
	retry       time.Duration
}

// NewSSEParser returns a parser reading r.
func NewSSEParser(r io.Reader) *SSEParser {
	return &SSEParser{r: r, buf: make([]byte, 4096), maxBytes: DefaultSSEMaxBytes}
}

// SetMaxBytes bounds one line and one event's data (default 1 MiB).
func (p *SSEParser) SetMaxBytes(n int) {
	if n > 0 {
		p.maxBytes = n
	}
}

// LastEventID is the id to resume with (Last-Event-ID). Like EventSource, it
// is committed at the blank line that ends an event, so an id read from an
// unfinished event does not count.
func (p *SSEParser) LastEventID() string { return p.lastEventID }

// Retry is the reconnection time the stream asked for; 0 when it gave none.
func (p *SSEParser) Retry() time.Duration { return p.retry }

// Next returns the next dispatched event. At the end of the stream it
// returns io.EOF (or the reader's error); the parser's state stays usable
// (LastEventID, Retry).
func (p *SSEParser) Next() (Event, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			p.lastEventID = p.idBuffer
			if len(p.data) == 0 {
				p.eventType = ""
				continue
			}
			data := p.data[:len(p.data)-1] // drop the trailing "\n"
			if !utf8.Valid(data) {
				data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
			}
			// The data buffer is handed over, not copied: the next event
			// starts a new one.
			ev := Event{Type: p.eventType, Data: data, ID: p.lastEventID}
			if ev.Type == "" {
				ev.Type = "message"
			}
			p.data = nil
			p.eventType = ""
			return ev, nil
		}
		if err := p.field(line); err != nil {
			return Event{}, err
		}
	}
}

func (p *SSEParser) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "event":
		p.eventType = string(validUTF8(value))
	case "data":
		if len(p.data)+len(value)+1 > p.maxBytes {
			return ErrSSELineTooLong
		}
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.idBuffer = string(validUTF8(value))
		}
	case "retry":
		if ms, ok := parseDigits(value); ok {
			p.retry = time.Duration(ms) * time.Millisecond
		}
	}
	return nil
}

// readLine returns the next line without its terminator. The slice is only
// valid until the next call.
func (p *SSEParser) readLine() ([]byte, error) {
	for {
		if !p.bomChecked {
			// Wait only while what we have could still be the start of a BOM.
			pending := p.buf[p.start:p.end]
			if len(pending) < len(utf8BOM) && p.eof == nil && bytes.HasPrefix(utf8BOM, pending) {
				if err := p.fill(); err != nil {
					return nil, err
				}
				continue
			}
			if bytes.HasPrefix(pending, utf8BOM) {
				p.start += len(utf8BOM)
			}
			p.bomChecked = true
		}
		if p.skipLF && p.start < p.end {
			if p.buf[p.start] == '\n' {
				p.start++
			}
			p.skipLF = false
		}
		pending := p.buf[p.start:p.end]
		if i := bytes.IndexAny(pending, "\r\n"); i >= 0 {
			line := pending[:i]
			p.start += i + 1
			p.skipLF = pending[i] == '\r'
			return line, nil
		}
		if p.eof != nil {
			// Bytes after the last line end never form a complete line.
			p.start = p.end
			return nil, p.eof
		}
		if len(pending) >= p.maxBytes {
			return nil, ErrSSELineTooLong
		}
		if err := p.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more input, compacting or growing the buffer (up to maxBytes
// plus one read) as needed.
func (p *SSEParser) fill() error {
	if p.start > 0 {
		n := copy(p.buf, p.buf[p.start:p.end])
		p.start, p.end = 0, n
	}
	if p.end == len(p.buf) {
		size := 2 * len(p.buf)
		if size > p.maxBytes+4096 {
			size = p.maxBytes + 4096
		}
		if size <= len(p.buf) {
			return ErrSSELineTooLong
		}
		grown := make([]byte, size)
		copy(grown, p.buf[:p.end])
		p.buf = grown
	}
	n, err := p.r.Read(p.buf[p.end:])
	p.end += n
	if err != nil {
		p.eof = err
	}
	return nil
}

func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 12 { // 12 digits of milliseconds is 30 years
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

// validUTF8 returns a fresh copy of b with invalid sequences replaced.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return bytes.Clone(b)
	}
	return bytes.ToValidUTF8(b, []byte("\uFFFD"))
}
