package main

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs the built command and returns its exit code and stderr.
func runBinary(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return 0, stderr.String()
}

// TestStartErrorsPointAtTheLine runs the built binary into the usual
// start-up mistakes: each is one plain line naming the config line (or the
// flag), exit 1 (2 for a bad command line), and no drain lines after it.
func TestStartErrorsPointAtTheLine(t *testing.T) {
	bin := buildCommand(t, ".")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	route := "routes:\n  - path: /a\n    upstream:\n      url: http://127.0.0.1:9\n"

	noDrain := func(t *testing.T, stderr string) {
		t.Helper()
		if strings.Contains(stderr, "draining") || strings.Contains(stderr, "drained") {
			t.Errorf("drain lines after a failed start:\n%s", stderr)
		}
	}

	t.Run("port in use", func(t *testing.T) {
		path := writeFile(t, dir, "busy.yaml", "listen: \""+busy.Addr().String()+"\"\nadmin:\n  listen: \"127.0.0.1:0\"\n"+route)
		code, stderr := runBinary(t, bin, "run", "-c", path)
		want := path + ":1:9: listen: listen tcp " + busy.Addr().String() + ": bind: address already in use\n"
		if code != 1 || !strings.Contains(stderr, "\n"+want) {
			t.Errorf("exit %d, stderr:\n%s\nwant the line %q", code, stderr, want)
		}
		noDrain(t, stderr)
	})
	t.Run("missing tls.cert_file", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.pem")
		path := writeFile(t, dir, "tls.yaml", "listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\ntls:\n  listen: \"127.0.0.1:0\"\n  cert_file: "+
			missing+"\n  key_file: "+missing+"\n"+route)
		code, stderr := runBinary(t, bin, "run", "-c", path)
		want := path + ":6:14: tls.cert_file: open " + missing + ": no such file or directory\n"
		if code != 1 || !strings.Contains(stderr, "\n"+want) {
			t.Errorf("exit %d, stderr:\n%s\nwant the line %q", code, stderr, want)
		}
		noDrain(t, stderr)
	})
	t.Run("run -c without a file", func(t *testing.T) {
		code, stderr := runBinary(t, bin, "run", "-c")
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "-c") {
			t.Errorf("exit %d, stderr %q; want exit 2 and one line", code, stderr)
		}
	})
	t.Run("demo -listen bad", func(t *testing.T) {
		code, stderr := runBinary(t, bin, "demo", "-listen", "nonsense")
		if code != 1 || stderr != "bridgeway: -listen: bad listen address \"nonsense\" (want HOST:PORT or :PORT)\n" {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("demo -listen in use", func(t *testing.T) {
		code, stderr := runBinary(t, bin, "demo", "-listen", busy.Addr().String())
		want := "\nbridgeway: -listen: listen tcp " + busy.Addr().String() + ": bind: address already in use\n"
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr:\n%s\nwant the line %q", code, stderr, want)
		}
		noDrain(t, stderr)
	})
}
