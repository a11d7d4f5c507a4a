package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The golden files live in the repository's testdata/config. Messages name
// files by their path from the repository root ("testdata/config/invalid/
// x.yaml"), exactly as `bridgeway validate -c testdata/config/invalid/x.yaml`
// run from the root prints them: the test reads each file through repoRoot
// and hands Parse the root-relative name.

var update = flag.Bool("update", false, "rewrite testdata/config/invalid/*.err from the current output")

const repoRoot = ".."

// testEnv is the fixed environment the golden files are read with.
var testEnv = map[string]string{
	"BW_TEST_KEY":    "s3cret#not-a-comment: \"quoted\"",
	"BW_TEST_HOST":   "127.0.0.1",
	"BW_TEST_BUFFER": "512",
	"BW_TEST_EMPTY":  "",
}

func lookupTestEnv(name string) (string, bool) {
	v, ok := testEnv[name]
	return v, ok
}

func goldenFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "testdata", "config", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files in testdata/config/%s", dir)
	}
	return files
}

// rootRelative turns "../testdata/x" into "testdata/x".
func rootRelative(t *testing.T, path string) string {
	t.Helper()
	rel, err := filepath.Rel(repoRoot, path)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

func TestGoldenValid(t *testing.T) {
	for _, file := range goldenFiles(t, "valid") {
		name := rootRelative(t, file)
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseWithEnv(name, data, lookupTestEnv); err != nil {
				t.Fatalf("want valid, got:\n%v", err)
			}
		})
	}
}

func TestGoldenInvalid(t *testing.T) {
	files := goldenFiles(t, "invalid")
	if len(files) < 30 {
		t.Errorf("only %d invalid cases; keep at least 30", len(files))
	}
	for _, file := range files {
		name := rootRelative(t, file)
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseWithEnv(name, data, lookupTestEnv)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("want an ErrorList, got %T: %v", err, err)
			}
			got := err.Error() + "\n"
			errFile := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(errFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(errFile)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run TestGoldenInvalid -update)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ\n--- got\n%s--- want\n%s", got, want)
			}
			for _, e := range list {
				if e.File != name || e.Line < 1 || e.Col < 1 {
					t.Errorf("bad position in %q", e.Error())
				}
			}
		})
	}
}
