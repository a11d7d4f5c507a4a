package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/bridgeway/bridgeway/config"
)

// validate --print shows the config that will run: every default filled in
// (a file of one route prints buffer, heartbeat, limits...), ${VAR}
// expanded, and reading the output back gives the same config.
func TestValidatePrintShowsTheEffectiveConfig(t *testing.T) {
	t.Setenv("BW_PRINT_UPSTREAM", "127.0.0.1:9001")
	dir := t.TempDir()
	file := writeFile(t, dir, "gw.yaml", "routes:\n  - path: /chat\n    upstream:\n      url: ws://${BW_PRINT_UPSTREAM}/chat\n")

	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "--print", "-c", file}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	text := out.String()
	loaded, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	// max_connections depends on this process's fd limit (config's default).
	maxConns := fmt.Sprintf("max_connections: %d", loaded.Limits.MaxConnections)
	for _, want := range []string{"listen: :8080", maxConns, "buffer: 1024", "heartbeat: 15s", "kind: websocket", "url: ws://127.0.0.1:9001/chat", "- jsonp"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	printed, err := config.Parse("printed.yaml", out.Bytes())
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, text)
	}
	// Compared as YAML: an empty list read back is [] where the loader had nil.
	again, err := config.Marshal(printed)
	if err != nil {
		t.Fatal(err)
	}
	want, err := config.Marshal(loaded)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, want) {
		t.Errorf("printed config differs from the loaded one:\n%s", text)
	}
}

func TestValidatePrintOfAnInvalidFilePrintsOnlyTheProblems(t *testing.T) {
	file := writeFile(t, t.TempDir(), "bad.yaml", "routes:\n  - path: /a\n    upstream: {url: ftp://x}\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "--print", "-c", file}, &out, &errOut); code != 1 || out.Len() != 0 {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out.String())
	}
	if !strings.HasPrefix(errOut.String(), file+":3:") {
		t.Errorf("stderr %q", errOut.String())
	}
	if code := run([]string{"validate", "--print"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("no -c: exit %d, want 2", code)
	}
}
