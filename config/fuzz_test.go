package config

import (
	"errors"
	"testing"
)

// FuzzParse: arbitrary bytes never panic, every error has a real position,
// and a config that parses has its defaults filled in. The seed corpus in
// testdata/fuzz/FuzzParse runs as part of a normal `go test`.
func FuzzParse(f *testing.F) {
	f.Add([]byte("routes:\n  - path: /chat\n    upstream: {url: \"ws://127.0.0.1:9001/chat\"}\n"))
	f.Add([]byte("a: &a [*a]\nroutes: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseWithEnv("fuzz.yaml", data, lookupTestEnv)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("want a non-empty ErrorList, got %T %v", err, err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Fatalf("bad error %#v", e)
				}
			}
			return
		}
		if len(c.Routes) == 0 || c.Admin.Listen == nil || c.Log.Access == nil {
			t.Fatalf("accepted config without routes or defaults: %+v", c)
		}
		for _, r := range c.Routes {
			if r.Snapshot == nil || r.Buffer < 1 || r.Heartbeat <= 0 {
				t.Fatalf("accepted route without defaults: %+v", r)
			}
		}
	})
}
