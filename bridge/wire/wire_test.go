package wire_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bridgeway/bridgeway/bridge/internal/ssetest"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []wire.Cursor{{"abc", 0}, {"AAAA-b_c", 42}, {"x", 18446744073709551615}} {
		got, err := wire.ParseCursor(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCursor(%q) = %v, %v; want %v", c.String(), got, err, c)
		}
	}
}

func TestParseCursorRejects(t *testing.T) {
	for _, s := range []string{"", "-", "abc", "abc-", "-5", "abc-01", "abc-+1", "abc- 1", "a b-1",
		"abc-18446744073709551616", strings.Repeat("a", 65) + "-1", "abc-1x", "ab/c-1", "abc-１"} {
		if _, err := wire.ParseCursor(s); err == nil {
			t.Errorf("ParseCursor(%q) accepted", s)
		}
	}
}

// normalizeNewlines is what SSE does to data: CR and CRLF become LF.
func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

func checkSSE(t *testing.T, id, event string, data []byte) {
	t.Helper()
	raw := wire.AppendSSE(nil, id, event, data)
	p := ssetest.NewParser(bytes.NewReader(raw))
	ev, err := p.Next()
	if err != nil {
		t.Fatalf("no event parsed from %q: %v", raw, err)
	}
	if want := normalizeNewlines(string(data)); ev.Data != want {
		t.Fatalf("data %q, want %q (wire %q)", ev.Data, want, raw)
	}
	wantType := strings.NewReplacer("\r", "", "\n", "", "\x00", "").Replace(event)
	if wantType == "" {
		wantType = "message"
	}
	if ev.Type != wantType {
		t.Fatalf("type %q, want %q (wire %q)", ev.Type, wantType, raw)
	}
	wantID := strings.NewReplacer("\r", "", "\n", "", "\x00", "").Replace(id)
	if ev.ID != wantID {
		t.Fatalf("id %q, want %q (wire %q)", ev.ID, wantID, raw)
	}
	if _, err := p.Next(); err == nil {
		t.Fatalf("more than one event from %q", raw)
	}
}

func TestSSEInjection(t *testing.T) {
	for _, d := range []string{"", "plain", "a\nb", "a\rb", "a\r\nb", "\n", "\r\n\r\n", "x\n\n",
		"data: evil", "id: 99\nevent: close\ndata: {}", "event: x\r\r", "nul\x00byte", " lead", ":comment\nretry: 1",
		"ü and 😀"} {
		checkSSE(t, "ep-7", "message", []byte(d))
		checkSSE(t, "ep-8", "tick", []byte(d))
	}
	checkSSE(t, "ep-1", "bad\nevent: x", []byte("d"))
}

func FuzzSSE(f *testing.F) {
	f.Add("ep-1", "message", []byte("hello"))
	f.Add("ep-2", "", []byte("a\r\nb\rc\nd"))
	f.Add("ep-3", "update", []byte("data: x\nid: 7\nevent: y\x00"))
	f.Fuzz(func(t *testing.T, id, event string, data []byte) {
		if !utf8.Valid(data) || !utf8.ValidString(event) || !utf8.ValidString(id) {
			t.Skip("SSE is UTF-8; binary data goes base64")
		}
		if strings.TrimLeft(id, "\r\n\x00") == "" && id != "" {
			t.Skip("id made only of stripped bytes")
		}
		if strings.HasPrefix(string(data), "\uFEFF") || strings.HasPrefix(id, "\uFEFF") {
			t.Skip("a BOM at stream start is stripped by browsers")
		}
		checkSSE(t, id, event, data)
	})
}

func FuzzParseCursor(f *testing.F) {
	f.Add("abc-0")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA-123")
	f.Add("a-b-c-9")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := wire.ParseCursor(s)
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("ParseCursor(%q) = %+v, formats back as %q", s, c, c.String())
		}
	})
}

func TestMessageJSON(t *testing.T) {
	for _, tc := range []struct {
		data   string
		binary bool
	}{{"hi \"there\"\n\t\x00\u2028</script>", false}, {"\xff\xfe raw", true}, {"", false}} {
		b := wire.AppendMessageJSON(nil, "e-1", "", []byte(tc.data), tc.binary)
		var got struct {
			ID, Event, Data string
			Binary          bool
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON %s: %v", b, err)
		}
		if got.ID != "e-1" || got.Event != "message" || got.Binary != tc.binary {
			t.Fatalf("got %+v from %s", got, b)
		}
		if !tc.binary && got.Data != tc.data {
			t.Fatalf("data %q want %q", got.Data, tc.data)
		}
		if bytes.Contains(b, []byte("\u2028")) {
			t.Fatalf("raw U+2028 in %s", b)
		}
	}
}

// FuzzMessageJSON: the message object of long-poll, JSONP and NDJSON is
// valid JSON for any input, carries no raw control byte (an NDJSON line
// cannot be split) and no raw U+2028/U+2029 (a JSONP script cannot be
// broken), and gives back what went in: the text (invalid UTF-8 replaced
// with U+FFFD, as encoding/json does) or, for binary, the bytes.
func FuzzMessageJSON(f *testing.F) {
	f.Add("ep-1", "", []byte("hello"), false)
	f.Add("ep-2", "tick", []byte("a\nb\u2028c\"d\\e\x00\x7f"), false)
	f.Add("ep-3", "bin", []byte{0xff, 0, 1}, true)
	f.Add("ep-\xff", "ev\u2029", []byte("caf\xe9"), false)
	f.Fuzz(func(t *testing.T, id, event string, data []byte, binary bool) {
		out := wire.AppendMessageJSON(nil, id, event, data, binary)
		for i, c := range out {
			if c < 0x20 {
				t.Fatalf("raw control byte %#x at %d in %q", c, i, out)
			}
		}
		if bytes.Contains(out, []byte("\u2028")) || bytes.Contains(out, []byte("\u2029")) {
			t.Fatalf("raw U+2028/U+2029 in %q", out)
		}
		if !utf8.Valid(out) {
			t.Fatalf("not UTF-8: %q", out)
		}
		var m struct {
			ID     string `json:"id"`
			Event  string `json:"event"`
			Data   string `json:"data"`
			Binary bool   `json:"binary"`
		}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		// What encoding/json makes of the same strings is the reference.
		ref := func(s string) string {
			var back string
			b, _ := json.Marshal(s)
			_ = json.Unmarshal(b, &back)
			return back
		}
		wantEvent := event
		if wantEvent == "" {
			wantEvent = "message"
		}
		if m.ID != ref(id) || m.Event != ref(wantEvent) || m.Binary != binary {
			t.Fatalf("id/event/binary %q %q %v from %q %q %v", m.ID, m.Event, m.Binary, id, event, binary)
		}
		if binary {
			got, err := base64.StdEncoding.DecodeString(m.Data)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("binary data %q does not decode to %q: %v", m.Data, data, err)
			}
		} else if m.Data != ref(string(data)) {
			t.Fatalf("data %q from %q, encoding/json gives %q", m.Data, data, ref(string(data)))
		}
	})
}
