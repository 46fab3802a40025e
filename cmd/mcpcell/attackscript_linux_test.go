package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needNode skips (or, in CI, fails) a test that runs a server under the
// system's node.
func needNode(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("node")
	need(t, "node on the PATH", err == nil)
}

// attackScript copies testdata/attack/name into dir (a project, which
// the default grants) and returns its path there.
func attackScript(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "attack", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitBounded runs cmd to its end, or kills it after d and fails.
func waitBounded(t *testing.T, cmd *exec.Cmd, d time.Duration) (code int) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s still ran %v after it started", filepath.Base(cmd.Args[1]), d)
		return -1
	}
}

// pidGone fails the test if the process whose pid follows prefix in
// text still runs.
func pidGone(t *testing.T, text, prefix string) {
	t.Helper()
	i := strings.Index(text, prefix)
	var pid int
	if i < 0 {
		t.Fatalf("no %q in:\n%s", prefix, text)
	}
	if _, err := fmt.Sscanf(text[i+len(prefix):], "%d", &pid); err != nil {
		t.Fatalf("no pid after %q: %v", prefix, err)
	}
	deadline := time.Now().Add(5 * time.Second) // its reaping, not a speed goal
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the server (pid %d) still runs after mcpcell ended: %v", pid, err)
	}
}
