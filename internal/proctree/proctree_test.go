//go:build linux

package proctree

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

// A child started by this process is among its descendants, after it; a
// process outside the tree is not.
func TestWithDescendantsFindsChildren(t *testing.T) {
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	pids, err := WithDescendants(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) < 2 || pids[0] != os.Getpid() || !slices.Contains(pids, child.Process.Pid) {
		t.Fatalf("WithDescendants(self) = %v; want self first, then child %d", pids, child.Process.Pid)
	}
	if slices.Contains(pids, os.Getppid()) {
		t.Fatalf("WithDescendants(self) = %v holds the parent %d", pids, os.Getppid())
	}
	if only, _ := WithDescendants(child.Process.Pid); !slices.Equal(only, []int{child.Process.Pid}) {
		t.Fatalf("WithDescendants(child) = %v; want just the child", only)
	}
}

// The command name may hold spaces and parentheses.
func TestParentReadsAfterTheName(t *testing.T) {
	ppid, ok := parent("1234 (nginx: worker (x)) S 1200 1234 1234 0 -1")
	if !ok || ppid != 1200 {
		t.Fatalf("parent = %d, %v; want 1200", ppid, ok)
	}
	if _, ok := parent("garbage"); ok {
		t.Fatal("garbage accepted")
	}
}
