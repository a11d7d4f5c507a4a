package routing

import (
	"reflect"
	"testing"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, path string
		ok            bool
		rest          string
		params        map[string]string
	}{
		{"/app", "/app", true, "", nil},
		{"/app", "/app/", true, "", nil},
		{"/app", "/app/x", true, "/x", nil},
		{"/app", "/apple", false, "", nil},
		{"/app", "/", false, "", nil},
		{"/", "/anything/here", true, "/anything/here", nil},
		{"/", "/", true, "/", nil},
		{"/prices/{symbol}", "/prices/AAPL", true, "", map[string]string{"symbol": "AAPL"}},
		{"/prices/{symbol}", "/prices/AAPL/sse", true, "/sse", map[string]string{"symbol": "AAPL"}},
		{"/prices/{symbol}", "/prices/", false, "", nil},
		{"/prices/{symbol}", "/prices", false, "", nil},
		{"/a/b", "/a/b/c/d", true, "/c/d", nil},
	}
	for _, c := range cases {
		p, err := Compile(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		params, rest, ok := p.Match(c.path)
		if ok != c.ok || (ok && (rest != c.rest || !reflect.DeepEqual(params, c.params))) {
			t.Errorf("%s on %s: got ok=%v rest=%q params=%v, want ok=%v rest=%q params=%v",
				c.pattern, c.path, ok, rest, params, c.ok, c.rest, c.params)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, bad := range []string{"app", "/a//b", "/a/{}", "/a/x{y}", "/{a}/{a}", "/{a-b}"} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("Compile(%q) succeeded", bad)
		}
	}
}

func TestTableLongestPrefix(t *testing.T) {
	var tb Table[string]
	for _, p := range []string{"/", "/app", "/app/admin", "/app/{id}"} {
		pt, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		tb.Add(pt, p)
	}
	tb.Build()
	for path, want := range map[string]string{
		"/x":             "/",
		"/app":           "/app",
		"/app/admin/y":   "/app/admin",
		"/app/42":        "/app/{id}",
		"/apple":         "/",
		"/app/admin":     "/app/admin",
		"/app/42/poll":   "/app/{id}",
		"/app/adminx/zz": "/app/{id}",
	} {
		m, ok := tb.Lookup(path)
		if !ok || m.Value != want {
			t.Errorf("Lookup(%s) = %v %v, want %s", path, m.Value, ok, want)
		}
	}
}

func TestFill(t *testing.T) {
	got := Fill("ws://up/prices?s={symbol}", map[string]string{"symbol": "AAPL"})
	if got != "ws://up/prices?s=AAPL" {
		t.Fatal(got)
	}
}
