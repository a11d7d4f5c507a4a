package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadReadsFileAndNamesIt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(path, []byte("routes:\n  - path: /a\n    upstream: {url: \"ws://h:1/\"}\n    bufer: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want one error, got %v", err)
	}
	want := path + ":4:5: routes[0]: unknown key \"bufer\" (did you mean \"buffer\"?)"
	if list[0].Error() != want || list[0].File != path || list[0].Line != 4 || list[0].Col != 5 {
		t.Errorf("got %q\nwant %q", list[0].Error(), want)
	}

	if err := os.WriteFile(path, []byte("routes:\n  - path: /a\n    upstream: {url: \"ws://h:1/\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("want a wrapped fs.ErrNotExist, got %v", err)
	}
}

func TestErrorListFormat(t *testing.T) {
	l := ErrorList{{File: "a.yaml", Line: 1, Col: 2, Msg: "one"}, {File: "a.yaml", Line: 3, Col: 4, Msg: "two"}}
	if got := l.Error(); got != "a.yaml:1:2: one\na.yaml:3:4: two" {
		t.Errorf("got %q", got)
	}
}

func TestUnits(t *testing.T) {
	sizes := map[string]Size{"0": 0, "17": 17, "10B": 10, "64KiB": 65536, "64KB": 64000, "64kb": 64000,
		"1MiB": 1 << 20, "1MB": 1000000, "2GiB": 2 << 30, "3GB": 3000000000, "1 MiB": 1 << 20, "1_000": 1000}
	for in, want := range sizes {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1.5MiB", "1TB", "-1", "1 KiB extra", "9999999999GiB", "0x10"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	for in, want := range map[string]time.Duration{"0": 0, "250ms": 250 * time.Millisecond, "1h30m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "10", "-1s", "1d", "fast"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	if s := Size(65536).String(); s != "64KiB" {
		t.Errorf("Size.String = %q", s)
	}
	if s := Size(64000).String(); s != "64000" {
		t.Errorf("Size.String = %q", s)
	}
}

// Every valid golden file survives Marshal → Parse unchanged, so the
// marshalled form is a faithful, loadable "effective config".
func TestMarshalRoundTrip(t *testing.T) {
	for _, file := range goldenFiles(t, "valid") {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseWithEnv("in.yaml", data, lookupTestEnv)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatalf("%s: marshal: %v", file, err)
		}
		// A literal $ must be written as $$ to survive expansion again.
		escaped := strings.ReplaceAll(string(out), "$", "$$")
		back, err := parseWithEnv("in.yaml", []byte(escaped), lookupTestEnv)
		if err != nil {
			t.Fatalf("%s: re-parse: %v\n%s", file, err, out)
		}
		again, err := Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(again) {
			t.Errorf("%s: round trip differs:\n%s", file, out)
		}
	}
}

func TestTooManyProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("routes:\n  - path: /a\n    upstream: {url: \"ws://h:1\"}\n    transports: [")
	for i := 0; i < 500; i++ {
		b.WriteString("bad, ")
	}
	b.WriteString("bad]\n")
	_, err := parseWithEnv("many.yaml", []byte(b.String()), noEnv)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v", err)
	}
	if len(list) != maxReported+1 {
		t.Fatalf("got %d lines, want %d", len(list), maxReported+1)
	}
	if last := list[len(list)-1]; last.Msg != "too many problems: 401 more not shown" || last.Line != 4 {
		t.Errorf("last line = %q", last.Error())
	}
}

func TestLongValuesAreClippedInMessages(t *testing.T) {
	long := strings.Repeat("a", 5000)
	_, err := parseWithEnv("long.yaml", []byte("routes:\n  - path: /a\n    upstream: {url: \"ws://h:1\"}\n    slow_client: "+long+"\n    buffer: "+long+"\n"), noEnv)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if len(line) > 300 || !strings.Contains(line, "…") {
			t.Errorf("message not clipped: %d bytes: %.120s", len(line), line)
		}
	}
}
