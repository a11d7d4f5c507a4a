package upstream

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// parseAll reads every event of input.
func parseAll(t testing.TB, r io.Reader) ([]Event, *SSEParser, error) {
	p := NewSSEParser(r)
	var out []Event
	for {
		ev, err := p.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return out, p, err
		}
		out = append(out, ev)
	}
}

func ev(typ, data, id string) Event { return Event{Type: typ, Data: []byte(data), ID: id} }

func TestSSEParser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  []Event
		last  string
		retry time.Duration
	}{
		{"lf", "data: a\n\ndata: b\n\n", []Event{ev("message", "a", ""), ev("message", "b", "")}, "", 0},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []Event{ev("message", "a", ""), ev("message", "b", "")}, "", 0},
		{"cr", "data: a\r\rdata: b\r\r", []Event{ev("message", "a", ""), ev("message", "b", "")}, "", 0},
		{"mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\n", []Event{ev("message", "a\nb\nc", "")}, "", 0},
		{"bom skipped once", "\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n", []Event{ev("message", "a", "")}, "", 0},
		{"multi-line data", "data: one\ndata:two\ndata:  three\n\n", []Event{ev("message", "one\ntwo\n three", "")}, "", 0},
		{"comments ignored", ": hello\n:\ndata: x\n: mid\n\n", []Event{ev("message", "x", "")}, "", 0},
		{"event type", "event: price\ndata: 1\n\ndata: 2\n\n", []Event{ev("price", "1", ""), ev("message", "2", "")}, "", 0},
		{"empty data buffer not dispatched", "event: x\n\nid: 7\n\ndata: y\n\n", []Event{ev("message", "y", "7")}, "7", 0},
		{"data with empty value dispatches", "data\n\n", []Event{ev("message", "", "")}, "", 0},
		{"id persists", "id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", []Event{ev("message", "a", "1"), ev("message", "b", "1"), ev("message", "c", "")}, "", 0},
		{"id with NUL ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", []Event{ev("message", "a", "1"), ev("message", "b", "1")}, "1", 0},
		{"retry digits", "retry: 1500\ndata: a\n\n", []Event{ev("message", "a", "")}, "", 1500 * time.Millisecond},
		{"retry not digits ignored", "retry: 15s\nretry: -1\nretry: 1.5\ndata: a\n\n", []Event{ev("message", "a", "")}, "", 0},
		{"no space after colon", "data:a\n\n", []Event{ev("message", "a", "")}, "", 0},
		{"only one space removed", "data:   a\n\n", []Event{ev("message", "  a", "")}, "", 0},
		{"unknown field ignored", "foo: bar\ndata: a\n\n", []Event{ev("message", "a", "")}, "", 0},
		{"field without colon", "data\ndata\n\n", []Event{ev("message", "\n", "")}, "", 0},
		{"incomplete event at eof dropped", "data: a\n\ndata: b\n", []Event{ev("message", "a", "")}, "", 0},
		{"unterminated line dropped", "data: a\n\ndata: b", []Event{ev("message", "a", "")}, "", 0},
		{"id of unfinished event not committed", "id: 1\ndata: a\n\nid: 2\ndata: b\n", []Event{ev("message", "a", "1")}, "1", 0},
		{"colon in value kept", "data: a: b\n\n", []Event{ev("message", "a: b", "")}, "", 0},
		{"invalid utf8 replaced", "data: a\xffb\n\n", []Event{ev("message", "a\uFFFDb", "")}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Whole input at once and one byte at a time must agree.
			for _, r := range []io.Reader{strings.NewReader(tc.input), iotest.OneByteReader(strings.NewReader(tc.input))} {
				got, p, err := parseAll(t, r)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					got = nil
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("events = %q, want %q", got, tc.want)
				}
				if p.LastEventID() != tc.last {
					t.Errorf("LastEventID = %q, want %q", p.LastEventID(), tc.last)
				}
				if p.Retry() != tc.retry {
					t.Errorf("Retry = %v, want %v", p.Retry(), tc.retry)
				}
			}
		})
	}
}

func TestSSEParserCRThenLFAcrossReads(t *testing.T) {
	// The LF after a CR arrives in a later read: it must not make an extra
	// blank line (which would dispatch early).
	r := io.MultiReader(strings.NewReader("data: a\r"), strings.NewReader("\ndata: b\r\n\r\n"))
	got, _, err := parseAll(t, iotest.HalfReader(r))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Event{ev("message", "a\nb", "")}; !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestSSEParserLimits(t *testing.T) {
	long := "data: " + strings.Repeat("x", 100) + "\n\n"
	p := NewSSEParser(strings.NewReader(long))
	p.SetMaxBytes(50)
	if _, err := p.Next(); !errors.Is(err, ErrSSELineTooLong) {
		t.Errorf("long line: err = %v, want ErrSSELineTooLong", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("y", 20)+"\n", 10) + "\n"
	p = NewSSEParser(strings.NewReader(many))
	p.SetMaxBytes(50)
	if _, err := p.Next(); !errors.Is(err, ErrSSELineTooLong) {
		t.Errorf("large event: err = %v, want ErrSSELineTooLong", err)
	}
}

func FuzzSSEParser(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n", "\xEF\xBB\xBFid: 1\r\nevent: x\r\ndata: y\r\n\r\n", "retry: 100\rdata\r\r",
		": c\n\ndata:a\ndata:b\n\n", "id: \x00\ndata: z\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		whole, p1, err1 := parseAll(t, strings.NewReader(string(input)))
		bytewise, p2, err2 := parseAll(t, iotest.OneByteReader(strings.NewReader(string(input))))
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("errors differ: %v vs %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if !reflect.DeepEqual(whole, bytewise) || p1.LastEventID() != p2.LastEventID() || p1.Retry() != p2.Retry() {
			t.Fatalf("chunking changed the result: %q vs %q", whole, bytewise)
		}
		for _, e := range whole {
			if !utf8.Valid(e.Data) || !utf8.ValidString(e.Type) || !utf8.ValidString(e.ID) {
				t.Fatalf("invalid UTF-8 in %q", e)
			}
			if strings.ContainsAny(e.Type, "\r\n") || strings.ContainsAny(e.ID, "\r\n\x00") ||
				strings.ContainsRune(string(e.Data), '\r') {
				t.Fatalf("line break leaked into a field: %q", e)
			}
			if e.Type == "" {
				t.Fatalf("empty event type: %q", e)
			}
		}
	})
}

func BenchmarkSSEParser(b *testing.B) {
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, "id: %d\nevent: price\ndata: {\"symbol\":\"ABC\",\"price\":%d.25}\n\n", i, i)
	}
	input := sb.String()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		p := NewSSEParser(strings.NewReader(input))
		for {
			if _, err := p.Next(); err != nil {
				break
			}
		}
	}
}
