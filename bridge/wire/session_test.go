package wire_test

import (
	"testing"

	"github.com/bridgeway/bridgeway/bridge/wire"
)

func TestSessionJSON(t *testing.T) {
	got := string(wire.AppendSessionJSON([]byte("x"), "s1", "/chat/{room}", "s1-3"))
	want := `x{"session":"s1","send":"/chat/{room}/send?session=s1","cursor":"s1-3"}`
	if got != want {
		t.Fatalf("AppendSessionJSON = %q, want %q", got, want)
	}
}

// The send URL and the cursor are written in place when nothing in them
// needs escaping, and escaped as any JSON string otherwise: both ways give
// the bytes AppendJSONString gives for the whole string.
func TestSessionFieldsAndCursorEscape(t *testing.T) {
	for _, tc := range []struct{ id, prefix string }{
		{"s1", "/chat"},
		{"s1", `/a"b\c`},
		{"s1", "/caf\u00e9"},
		{"s1", "/line\nbreak"},
		{`s"1`, "/chat"},
		{"s1", "/x\u2028"},
	} {
		want := `"session":` + string(wire.AppendJSONString(nil, tc.id)) +
			`,"send":` + string(wire.AppendJSONString(nil, tc.prefix+"/send?session="+tc.id)) + ","
		if got := string(wire.AppendSessionFields(nil, tc.id, tc.prefix)); got != want {
			t.Errorf("AppendSessionFields(%q, %q) = %q, want %q", tc.id, tc.prefix, got, want)
		}
	}
	for _, epoch := range []string{"AbC_-9", `e"x`, "e\x01"} {
		want := string(wire.AppendJSONString(nil, string(wire.AppendCursor(nil, epoch, 42))))
		if got := string(wire.AppendCursorJSON(nil, epoch, 42)); got != want {
			t.Errorf("AppendCursorJSON(%q, 42) = %q, want %q", epoch, got, want)
		}
	}
}
