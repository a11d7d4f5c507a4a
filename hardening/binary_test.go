package hardening

import (
	"bufio"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// buildBridgeway builds cmd/bridgeway into a temporary folder and returns
// the binary's path.
func buildBridgeway(t *testing.T) string {
	t.Helper()
	goBin := testdeps.LookPath(t, "go") // skips on a laptop without it, fails in CI
	bin := filepath.Join(t.TempDir(), "bridgeway")
	if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/bridgeway/bridgeway/cmd/bridgeway").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// child is a bridgeway process started by startBinary.
type child struct {
	*gateway // its addresses, from the "listening" log line
	cmd      *exec.Cmd
	// done is closed once the process exited and its log was read; err is
	// then what cmd.Wait returned.
	done chan struct{}
	err  error

	mu    sync.Mutex
	lines []string
}

// startBinary runs `prefix... bin run -c cfgPath` (prefix: a wrapper such as
// prlimit, or nothing), collects its log from stderr and waits for its
// "listening" line. The process is killed when the test ends.
func startBinary(t *testing.T, prefix []string, bin, cfgPath string) *child {
	t.Helper()
	args := append(append([]string(nil), prefix...), bin, "run", "-c", cfgPath)
	c := &child{cmd: exec.Command(args[0], args[1:]...), done: make(chan struct{})}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan map[string]any, 1)
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
			var entry map[string]any
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry["msg"] == "listening" {
				select {
				case listening <- entry:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // a line too long for the scanner
		c.err = c.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	select {
	case entry := <-listening:
		addr, _ := entry["http"].(string)
		admin, _ := entry["admin"].(string)
		c.gateway = &gateway{t: t, addr: addr, admin: admin, URL: "http://" + addr, stopped: true}
	case <-c.done:
		t.Fatalf("bridgeway exited before listening: %v\n%s", c.err, c.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("bridgeway did not start:\n%s", c.log())
	}
	return c
}

// log is everything the process logged so far.
func (c *child) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}
