package loadgen

import (
	"bytes"
	"encoding/json"
	"net/url"
)

// A bridgeway long-poll answer, read without encoding/json when it can be.
//
// Ten thousand pollers at 2 msg/s are 20,000 answers a second. Decoding
// each with json.Unmarshal took about a sixth of the generator's CPU (perf
// of the longpoll row), which is the generator's cost, not the gateway's:
// it made the generator spend 35 µs per delivery on bridgeway's answers
// against 21 µs on nchan's bare bodies, and on two cores that time
// competes with the server and lands in the latency the row reports. So
// the common answer (no escapes, no gap, no close: what the row sees) is
// scanned in place, and anything else goes to json.Unmarshal, which stays
// the authority on what is valid.

// pollAnswer is the long-poll answer as encoding/json reads it (the
// fallback); wireMessage is shared with the NDJSON stream.
type pollAnswer struct {
	Session  string          `json:"session"`
	Cursor   string          `json:"cursor"`
	Messages []wireMessage   `json:"messages"`
	Gap      json.RawMessage `json:"gap"`
	Closed   json.RawMessage `json:"closed"`
}

// polled is a decoded answer. Its slices alias the body it was read from
// (or the fallback's strings), so it is good until the next read.
type polled struct {
	session, cursor []byte
	messages        []polledMessage
	gap             bool   // the answer reported a gap
	closed          []byte // the close object, when the server closed
	slow            pollAnswer
}

type polledMessage struct {
	event, data []byte
	gap         bool // a gap message in the list (it has a gap object)
}

// decode reads body into p, reusing p's storage.
func (p *polled) decode(body []byte) error {
	p.session, p.cursor, p.messages, p.gap, p.closed = nil, nil, p.messages[:0], false, nil
	if p.scan(body) {
		return nil
	}
	p.session, p.cursor, p.messages = nil, nil, p.messages[:0]
	p.slow = pollAnswer{}
	if err := json.Unmarshal(body, &p.slow); err != nil {
		return err
	}
	p.session, p.cursor = []byte(p.slow.Session), []byte(p.slow.Cursor)
	for i := range p.slow.Messages {
		m := &p.slow.Messages[i]
		p.messages = append(p.messages, polledMessage{
			event: []byte(m.Event), data: []byte(m.Data), gap: len(m.Gap) > 0 && string(m.Gap) != "null",
		})
	}
	p.gap = len(p.slow.Gap) > 0 && string(p.slow.Gap) != "null"
	if len(p.slow.Closed) > 0 && string(p.slow.Closed) != "null" {
		p.closed = p.slow.Closed
	}
	return nil
}

// scan reads the common answer, {"session":S,"send":U,"cursor":C,
// "messages":[{flat object},...]} (session and send only in session
// mode), in place. Without a backslash anywhere a JSON string ends
// at its next quote, which is what makes this short. It reports false for
// anything else (escapes, gap or close fields, nested objects, other
// keys), and the caller falls back to encoding/json.
func (p *polled) scan(body []byte) bool {
	if bytes.IndexByte(body, '\\') >= 0 {
		return false
	}
	s := jsonScan{b: body}
	return s.object(func(key []byte) (ok bool) {
		switch string(key) {
		case "session":
			p.session, ok = s.str()
		case "cursor":
			p.cursor, ok = s.str()
		case "send": // a session's send URL: not needed here
			_, ok = s.str()
		case "messages": // a second list: the fallback keeps the last
			ok = len(p.messages) == 0 && p.scanMessages(&s)
		}
		return ok
	}) && s.end()
}

func (p *polled) scanMessages(s *jsonScan) bool {
	return s.list('[', ']', func() bool {
		var m polledMessage
		ok := s.object(func(key []byte) (ok bool) {
			switch string(key) {
			case "id":
				_, ok = s.str()
			case "event":
				m.event, ok = s.str()
			case "data":
				m.data, ok = s.str()
			case "binary":
				var binary bool
				binary, ok = s.boolean()
				ok = ok && !binary // base64 data: leave it to the fallback
			}
			return ok // false too for "gap" (an object) or a field this does not know
		})
		p.messages = append(p.messages, m)
		return ok
	})
}

// jsonScan walks JSON without escapes.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c (after white space) if it comes next.
func (s *jsonScan) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string without escapes; a control byte in it is invalid
// JSON, which the fallback reports.
func (s *jsonScan) str() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	n := bytes.IndexByte(s.b[s.i:], '"')
	if n < 0 {
		return nil, false
	}
	v := s.b[s.i : s.i+n]
	for _, c := range v {
		if c < 0x20 {
			return nil, false
		}
	}
	s.i += n + 1
	return v, true
}

func (s *jsonScan) boolean() (value, ok bool) {
	s.space()
	switch {
	case bytes.HasPrefix(s.b[s.i:], []byte("true")):
		s.i += 4
		return true, true
	case bytes.HasPrefix(s.b[s.i:], []byte("false")):
		s.i += 5
		return false, true
	}
	return false, false
}

// object reads an object, handing each key to field with the scanner at
// its value; field reads the value and reports false to give up.
func (s *jsonScan) object(field func(key []byte) bool) bool {
	return s.list('{', '}', func() bool {
		key, ok := s.str()
		return ok && s.next(':') && field(key)
	})
}

// list reads open, items separated by commas, close; item reads one and
// reports false to give up.
func (s *jsonScan) list(open, close byte, item func() bool) bool {
	if !s.next(open) {
		return false
	}
	for first := true; ; first = false {
		if s.next(close) {
			return true
		}
		if !first && !s.next(',') || !item() {
			return false
		}
	}
}

// end reports whether only white space is left.
func (s *jsonScan) end() bool {
	s.space()
	return s.i == len(s.b)
}

// appendNextPollQuery appends the query of the poll after p's answer:
// cursor=C, then session=S when the answer had one (the order
// url.Values.Encode gives).
func appendNextPollQuery(dst []byte, p *polled) []byte {
	dst = append(dst, "cursor="...)
	dst = appendQueryValue(dst, p.cursor)
	if len(p.session) > 0 {
		dst = append(dst, "&session="...)
		dst = appendQueryValue(dst, p.session)
	}
	return dst
}

// appendQueryValue appends v escaped as url.QueryEscape does, without a
// string per call when v needs no escaping (cursors and session ids
// usually do not).
func appendQueryValue(dst, v []byte) []byte {
	for _, c := range v {
		if !queryPlain(c) {
			return append(dst, url.QueryEscape(string(v))...)
		}
	}
	return append(dst, v...)
}

// queryPlain reports whether url.QueryEscape leaves c as it is.
func queryPlain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}
