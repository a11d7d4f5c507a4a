package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestExpandEnv(t *testing.T) {
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"A": "alpha", "EMPTY": "", "B_2": "b"}[name]
		return v, ok
	}
	cases := []struct {
		in, want string
		problems int
	}{
		{"plain", "plain", 0},
		{"${A}", "alpha", 0},
		{"x${A}y${B_2}z", "xalphaybz", 0},
		{"${MISSING:-dflt}", "dflt", 0},
		{"${A:-dflt}", "alpha", 0},
		{"${EMPTY:-dflt}", "dflt", 0}, // like the shell: empty counts as unset for :-
		{"${EMPTY}", "", 0},
		{"${MISSING:-}", "", 0},
		{"$$", "$", 0},
		{"$${A}", "${A}", 0},
		{"price $5", "price $5", 0},
		{"end$", "end$", 0},
		{"${MISSING}", "", 1},
		{"${MISSING} and ${ALSO_MISSING}", " and ", 2},
		{"${A", "${A", 1},
		{"${}", "", 1},
		{"${9X}", "", 1},
		{"${A-B}", "", 1},
	}
	for _, c := range cases {
		got, problems := expandEnv(c.in, env)
		if len(problems) != c.problems || (c.problems == 0 && got != c.want) {
			t.Errorf("expandEnv(%q) = %q, %q; want %q with %d problems", c.in, got, problems, c.want, c.problems)
		}
	}
}

// TestEnvFile checks expansion in a whole file, including values that would
// break the YAML if they were pasted into the text before parsing.
func TestEnvFile(t *testing.T) {
	data, err := os.ReadFile(repoRoot + "/testdata/config/valid/env.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseWithEnv("env.yaml", data, lookupTestEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen from default", c.Listen, ":8080"},
		{"log.level from default", c.Log.Level, "warn"},
		{"url", r.Upstream.URL, "ws://127.0.0.1:9001/chat"},
		{"header with YAML specials", r.Upstream.Headers["X-Api-Key"], testEnv["BW_TEST_KEY"]},
		{"$$ escape", r.Upstream.Headers["X-Price"], "$5 # not a comment"},
		{"int from env", r.Buffer, 512},
		{"bool from default", *r.Snapshot, false},
		{"duration from default", r.Heartbeat.D(), 7 * time.Second},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestEnvProcessEnvironment(t *testing.T) {
	t.Setenv("BW_CONFIG_TEST_PORT", "9443")
	c, err := Parse("p.yaml", []byte("listen: \":${BW_CONFIG_TEST_PORT}\"\nroutes: [{path: /a, upstream: {url: \"ws://h:1/\"}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9443" {
		t.Errorf("listen = %q", c.Listen)
	}
}

func TestEnvBadTypedValue(t *testing.T) {
	env := func(string) (string, bool) { return "many", true }
	_, err := parseWithEnv("t.yaml", []byte("routes:\n  - path: /a\n    upstream: {url: \"ws://h:1/\"}\n    buffer: ${N}\n    snapshot: ${B}\n"), env)
	want := "t.yaml:4:13: routes[0].buffer: want an integer, got \"many\"\n" +
		"t.yaml:5:15: routes[0].snapshot: want true or false, got \"many\""
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// An env value is data: it cannot add keys, even when it looks like YAML.
func TestEnvValueCannotInjectYAML(t *testing.T) {
	env := func(string) (string, bool) { return "x\nlisten: \":1\"", true }
	c, err := parseWithEnv("t.yaml", []byte("routes:\n  - path: /a\n    upstream:\n      url: \"ws://h:1/\"\n      headers: {X-A: \"${V}\"}\n"), env)
	var list ErrorList
	if errors.As(err, &list) {
		if !strings.Contains(err.Error(), "line breaks") {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen {
		t.Errorf("env value changed listen to %q", c.Listen)
	}
}
