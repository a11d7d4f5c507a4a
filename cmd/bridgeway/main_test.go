package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bridgeway/bridgeway/proxy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout only keeps a broken test from hanging.
const testTimeout = 30 * time.Second

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func gatewayYAML(routes ...[2]string) string {
	var b strings.Builder
	b.WriteString("listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\nshutdown_timeout: 5s\nroutes:\n")
	for _, r := range routes {
		b.WriteString("  - path: " + r[0] + "\n    upstream:\n      url: \"" + r[1] + "\"\n")
	}
	return b.String()
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", gatewayYAML([2]string{"/app", "http://127.0.0.1:9001"}))
	bad := writeFile(t, dir, "bad.yaml", "listen: 8080\nroutes:\n  - path: /app\n    upstrem:\n      url: http://x\n")

	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "-c", good}, &out, &errOut); code != 0 || out.String() != "ok\n" {
		t.Fatalf("valid file: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}

	out.Reset()
	errOut.Reset()
	code := run([]string{"validate", "-c", bad}, &out, &errOut)
	if code != 1 || out.Len() != 0 {
		t.Fatalf("invalid file: exit %d, stdout %q", code, out.String())
	}
	lines := strings.Split(strings.TrimRight(errOut.String(), "\n"), "\n")
	for _, line := range lines {
		if !strings.HasPrefix(line, bad+":") {
			t.Errorf("error line not FILE:LINE:COL: %q", line)
		}
	}
	if !strings.Contains(errOut.String(), bad+":4:5:") {
		t.Errorf("no error at the misspelled key (4:5): %q", errOut.String())
	}

	for _, args := range [][]string{{"validate"}, {"validate", "-x"}, {"validate", "-c", good, "extra"}} {
		errOut.Reset()
		if code := run(args, io.Discard, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, errOut.String())
		}
	}
	errOut.Reset()
	if code := run([]string{"validate", "-c", filepath.Join(dir, "missing.yaml")}, io.Discard, &errOut); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestVersionAndUsage(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, io.Discard); code != 0 {
		t.Fatalf("version exit %d", code)
	}
	if !strings.HasPrefix(out.String(), "bridgeway dev (commit dev, "+runtime.Version()) {
		t.Errorf("version output %q", out.String())
	}
	var errOut bytes.Buffer
	if code := run([]string{"frobnicate"}, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage") {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut.String())
	}
	if code := run(nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("no arguments: exit %d", code)
	}
}

// syncBuffer is a log sink safe to read while the gateway writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func upstreamServer(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, name+" "+r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: testTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunReloadsOnSIGHUPAndDrainsOnSIGTERM(t *testing.T) {
	app, other := upstreamServer(t, "app"), upstreamServer(t, "other")
	dir := t.TempDir()
	path := writeFile(t, dir, "gw.yaml", gatewayYAML([2]string{"/app", app.URL}))

	signals := make(chan os.Signal, 1)
	servers := make(chan *proxy.Server, 1)
	exit := make(chan int, 1)
	logs := &syncBuffer{}
	go func() { exit <- runGateway(path, logs, signals, func(s *proxy.Server) { servers <- s }) }()
	var srv *proxy.Server
	select {
	case srv = <-servers:
	case code := <-exit:
		t.Fatalf("gateway exited %d: %s", code, logs.String())
	}
	base := "http://" + srv.Addr()

	if code, body := fetch(t, base+"/app/x"); code != 200 || body != "app /app/x" {
		t.Fatalf("before reload: %d %q", code, body)
	}

	// An invalid file is logged and ignored: the old config keeps serving.
	writeFile(t, dir, "gw.yaml", "routes: [oops\n")
	signals <- syscall.SIGHUP
	eventually(t, "the invalid reload to be logged", func() bool {
		return strings.Contains(logs.String(), "invalid config ignored")
	})
	if code, _ := fetch(t, base+"/app"); code != 200 {
		t.Fatalf("after invalid reload: %d", code)
	}

	// A valid file swaps the routes.
	writeFile(t, dir, "gw.yaml", gatewayYAML([2]string{"/app", app.URL}, [2]string{"/new", other.URL}))
	signals <- syscall.SIGHUP
	eventually(t, "the new route", func() bool {
		code, body := fetch(t, base+"/new/y")
		return code == 200 && body == "other /new/y"
	})

	signals <- syscall.SIGTERM
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit code %d after SIGTERM", code)
		}
	case <-time.After(testTimeout):
		t.Fatal("gateway did not exit after SIGTERM")
	}
	for _, want := range []string{`"msg":"starting"`, `"msg":"config reloaded"`, `"msg":"drained"`, `"logger":"access"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

func TestRunRefusesInvalidConfig(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bad.yaml", "listen: [\n")
	var errOut bytes.Buffer
	if code := run([]string{"run", "-c", path}, io.Discard, &errOut); code != 1 || !strings.HasPrefix(errOut.String(), path+":") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

// TestBinarySmoke builds the real binary, runs it as bridgeway -c FILE,
// proxies one request, sends SIGTERM and expects exit status 0.
func TestBinarySmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "bridgeway")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	app := upstreamServer(t, "app")
	path := writeFile(t, t.TempDir(), "gw.yaml", gatewayYAML([2]string{"/app", app.URL}))

	cmd := exec.Command(bin, "-c", path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	done := make(chan error, 1)

	// The "listening" log line carries the bound addresses.
	addrs := make(chan string, 1)
	logLines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				HTTP string `json:"http"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrs <- line.HTTP
			}
			select {
			case logLines <- sc.Text():
			default:
			}
		}
		done <- cmd.Wait()
	}()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("binary exited early: %v", err)
	case <-time.After(testTimeout):
		t.Fatal("binary never logged its listening address")
	}
	if code, body := fetch(t, "http://"+addr+"/app"); code != 200 || body != "app /app" {
		t.Fatalf("through the binary: %d %q", code, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("binary did not exit after SIGTERM")
	}
}
