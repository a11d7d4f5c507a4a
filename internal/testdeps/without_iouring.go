package testdeps

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// WithoutIOURing runs the tests of the calling package that match run
// again, in a child process with BRIDGEWAY_IO_URING=off: the paths every
// host without io_uring takes stay tested where io_uring is there. In the
// child it skips (it is the run without io_uring).
func WithoutIOURing(t *testing.T, run string) {
	t.Helper()
	if os.Getenv("BRIDGEWAY_IO_URING") == "off" {
		t.Skip("this is the run without io_uring")
	}
	cmd := exec.Command(os.Args[0], "-test.count=1", "-test.run="+run)
	cmd.Env = append(os.Environ(), "BRIDGEWAY_IO_URING=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the tests without io_uring (%s): %v\n%s", run, err, out)
	}
	if !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("the tests without io_uring (%s) did not pass:\n%s", run, out)
	}
}
