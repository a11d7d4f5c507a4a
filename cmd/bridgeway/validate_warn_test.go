package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestValidateWarnsPprofOffLoopback: the profiler on an admin listener that
// other hosts can reach is valid but risky: validate says ok (exit 0) and
// prints a FILE:LINE:COL warning at admin.pprof (the value). On loopback it is quiet.
func TestValidateWarnsPprofOffLoopback(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		admin string
		warn  bool
	}{
		{"0.0.0.0:9090", true},
		{":9090", true},
		{"10.1.2.3:9090", true},
		{"[::]:9090", true},
		{"127.0.0.1:9090", false},
		{"[::1]:9090", false},
		{"localhost:9090", false},
	} {
		file := writeFile(t, dir, "pprof.yaml", "admin:\n  listen: \""+tc.admin+"\"\n  pprof: true\nroutes:\n  - path: /app\n    upstream: {url: \"http://127.0.0.1:9001\"}\n")
		var out, errOut bytes.Buffer
		if code := run([]string{"validate", "-c", file}, &out, &errOut); code != 0 || out.String() != "ok\n" {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", tc.admin, code, out.String(), errOut.String())
		}
		got := errOut.String()
		if tc.warn && !strings.HasPrefix(got, file+":3:10: warning: admin.pprof: ") {
			t.Errorf("%s: stderr %q, want a warning at 3:10", tc.admin, got)
		}
		if !tc.warn && got != "" {
			t.Errorf("%s: stderr %q, want nothing", tc.admin, got)
		}
	}
}
