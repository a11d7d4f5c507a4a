// Package ssetest is a WHATWG-conformant EventSource stream parser for
// tests: it reads bytes the way a browser does (BOM, CR/LF/CRLF line ends,
// field parsing, dispatch rules, last event id), so tests check the wire
// format rather than the gateway's own encoder.
package ssetest

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// Event is one dispatched event.
type Event struct {
	ID    string // the last event ID buffer at dispatch time
	Type  string // "message" when no event field was given
	Data  string
	Retry int // last retry value seen (ms), -1 when none
}

// Parser parses an event stream incrementally.
type Parser struct {
	r         *bufio.Reader
	started   bool
	lastID    string
	idBuffer  string
	eventType string
	data      strings.Builder
	hasData   bool
	retry     int
	Comments  int // comment lines seen (heartbeats, padding)
	pendingCR bool
}

// NewParser reads from r.
func NewParser(r io.Reader) *Parser {
	return &Parser{r: bufio.NewReaderSize(r, 64<<10), retry: -1}
}

// Retry returns the last retry value in ms (-1 when none).
func (p *Parser) Retry() int { return p.retry }

// readLine returns one line without its terminator (CRLF, LF or CR).
func (p *Parser) readLine() (string, error) {
	var sb strings.Builder
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			// An unterminated last line is dropped, as browsers do.
			return "", err
		}
		if p.pendingCR {
			p.pendingCR = false
			if c == '\n' {
				continue
			}
		}
		switch c {
		case '\n':
			return sb.String(), nil
		case '\r':
			p.pendingCR = true
			return sb.String(), nil
		}
		sb.WriteByte(c)
	}
}

// Next returns the next dispatched event, or an error (io.EOF at the end).
func (p *Parser) Next() (Event, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			return Event{}, err
		}
		if !p.started {
			p.started = true
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" {
			if ev, ok := p.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if line[0] == ':' {
			p.Comments++
			continue
		}
		field, value := line, ""
		if i := strings.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			p.eventType = value
		case "data":
			p.data.WriteString(value)
			p.data.WriteByte('\n')
			p.hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				p.idBuffer = value
			}
		case "retry":
			if n, err := strconv.Atoi(value); err == nil && n >= 0 && isDigits(value) {
				p.retry = n
			}
		}
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func (p *Parser) dispatch() (Event, bool) {
	// The last event ID only changes when an event is complete, so a
	// stream cut mid-event resumes before it.
	p.lastID = p.idBuffer
	data := p.data.String()
	typ := p.eventType
	p.data.Reset()
	p.eventType = ""
	hasData := p.hasData
	p.hasData = false
	if !hasData || data == "" {
		return Event{}, false
	}
	data = strings.TrimSuffix(data, "\n")
	if typ == "" {
		typ = "message"
	}
	return Event{ID: p.lastID, Type: typ, Data: data, Retry: p.retry}, true
}

// LastEventID is what a browser would send as Last-Event-ID on reconnect.
func (p *Parser) LastEventID() string { return p.lastID }
