package loadgen

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/bridgeway/bridgeway/bridge/wire"
)

// answerBody builds a long-poll answer with the gateway's own encoders.
func answerBody(session, cursor string, msgs [][]byte, binary bool, gap, closed bool) []byte {
	b := []byte{'{'}
	if session != "" {
		b = wire.AppendSessionFields(b, session, "/chat") // ends with a comma
	}
	b = append(b, `"cursor":`...)
	b = wire.AppendJSONString(b, cursor)
	b = append(b, `,"messages":[`...)
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendMessageJSON(b, cursor, "", m, binary)
	}
	b = append(b, ']')
	if gap {
		b = append(b, `,"gap":`...)
		b = wire.AppendGapJSON(b, "e-1", "e-9")
	}
	if closed {
		b = append(b, `,"closed":`...)
		b = wire.AppendCloseJSON(b, 4000, "bye")
	}
	return append(b, '}')
}

// want decodes body the slow way, into what polled should hold.
func want(t testing.TB, body []byte) (session, cursor string, data []string, gaps int, closed bool) {
	t.Helper()
	var a pollAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", body, err)
	}
	for _, m := range a.Messages {
		if len(m.Gap) > 0 && string(m.Gap) != "null" {
			gaps++
			continue
		}
		data = append(data, m.Data)
	}
	if len(a.Gap) > 0 && string(a.Gap) != "null" {
		gaps++
	}
	return a.Session, a.Cursor, data, gaps, len(a.Closed) > 0 && string(a.Closed) != "null"
}

func got(p *polled) (session, cursor string, data []string, gaps int, closed bool) {
	for _, m := range p.messages {
		if m.gap {
			gaps++
			continue
		}
		data = append(data, string(m.data))
	}
	if p.gap {
		gaps++
	}
	return string(p.session), string(p.cursor), data, gaps, p.closed != nil
}

// TestPolledMatchesEncodingJSON decodes answers the gateway's encoders
// write, each both ways, and checks that the in-place scan is taken for the
// common ones and that every one reads as encoding/json reads it.
func TestPolledMatchesEncodingJSON(t *testing.T) {
	payload := appendPayload(nil, "r1", 7, 123456789, 64)
	cases := []struct {
		name string
		body []byte
		fast bool // the in-place scan reads it
	}{
		{"broadcast", answerBody("", "ep-12", [][]byte{payload}, false, false, false), true},
		{"several", answerBody("", "ep-13", [][]byte{payload, payload, []byte("x")}, false, false, false), true},
		{"empty", answerBody("", "ep-13", nil, false, false, false), true},
		{"session", answerBody("s1d", "ep-14", [][]byte{payload}, false, false, false), true},
		{"spaces", []byte(" { \"cursor\" : \"c\" , \"messages\" : [ { \"data\" : \"d\" , \"binary\" : false } ] } "), true},
		{"escapes", answerBody("", "ep-15", [][]byte{[]byte("say \"hi\"\n\u2028")}, false, false, false), false},
		{"unicode", answerBody("", "ep-15", [][]byte{[]byte("grüße ✓")}, false, false, false), true},
		{"binary", answerBody("", "ep-16", [][]byte{{0, 1, 2, 255}}, true, false, false), false},
		{"gap", answerBody("", "ep-17", [][]byte{payload}, false, true, false), false},
		{"closed", answerBody("", "ep-18", nil, false, false, true), false},
		{"gap message", []byte(`{"cursor":"c","messages":[` + string(wire.AppendGapMessageJSON(nil, "a", "b")) + `]}`), false},
		{"unknown key", []byte(`{"cursor":"c","messages":[],"more":1}`), false},
		{"two lists", []byte(`{"cursor":"c","messages":[{"data":"a"}],"messages":[{"data":"b"}]}`), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var scanned polled
			if fast := scanned.scan(tc.body); fast != tc.fast {
				t.Fatalf("scan(%s) = %v, want %v", tc.body, fast, tc.fast)
			}
			var p polled
			if err := p.decode(tc.body); err != nil {
				t.Fatalf("decode(%s): %v", tc.body, err)
			}
			s, c, d, g, cl := want(t, tc.body)
			gs, gc, gd, gg, gcl := got(&p)
			if gs != s || gc != c || !reflect.DeepEqual(gd, d) || gg != g || gcl != cl {
				t.Fatalf("decode(%s) = %q %q %q gaps %d closed %v; encoding/json: %q %q %q gaps %d closed %v",
					tc.body, gs, gc, gd, gg, gcl, s, c, d, g, cl)
			}
		})
	}
	for _, bad := range []string{``, `{`, `{"cursor":"c"`, `{"cursor":"c","messages":[{"data":"a"]}`, `[]`, `{"cursor":"c\x01"}`} {
		var p polled
		if err := p.decode([]byte(bad)); err == nil {
			t.Errorf("decode(%q) accepted invalid JSON", bad)
		}
	}
}

// TestNextPollQueryAsURLValues: the next poll's query is what
// url.Values.Encode makes of the cursor and session.
func TestNextPollQueryAsURLValues(t *testing.T) {
	for _, tc := range []struct{ session, cursor string }{
		{"", "ep-12"}, {"s1", "ep-12"}, {"", "a b&c=d/é"}, {"s/ 1+", "x~y_z.0"},
	} {
		p := polled{session: []byte(tc.session), cursor: []byte(tc.cursor)}
		q := url.Values{"cursor": {tc.cursor}}
		if tc.session != "" {
			q.Set("session", tc.session)
		}
		if got, want := string(appendNextPollQuery(nil, &p)), q.Encode(); got != want {
			t.Errorf("query for %+v = %q, want %q", tc, got, want)
		}
	}
}

// FuzzPolledDecode: whatever the body, decode agrees with encoding/json on
// whether it is valid and, for valid UTF-8, on what it holds.
func FuzzPolledDecode(f *testing.F) {
	f.Add(answerBody("s", "ep-1", [][]byte{[]byte("bw1 r 1 2 x")}, false, false, false))
	f.Add(answerBody("", "ep-1", [][]byte{[]byte("a\"b")}, false, true, true))
	f.Add([]byte(`{"cursor":"c","messages":[{"data":"a","binary":true}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var a pollAnswer
		slowErr := json.Unmarshal(body, &a)
		var p polled
		err := p.decode(body)
		if (err == nil) != (slowErr == nil) {
			t.Fatalf("decode(%q) error %v, encoding/json %v", body, err, slowErr)
		}
		if err != nil || !utf8.Valid(body) {
			return
		}
		s, c, d, g, cl := want(t, body)
		gs, gc, gd, gg, gcl := got(&p)
		if gs != s || gc != c || !reflect.DeepEqual(gd, d) || gg != g || gcl != cl {
			t.Fatalf("decode(%q) = %q %q %q gaps %d closed %v; encoding/json: %q %q %q gaps %d closed %v",
				body, gs, gc, gd, gg, gcl, s, c, d, g, cl)
		}
	})
}
