package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Attack (review 11, F): a trusted profile with [secrets] started with a
// command line the user never trusted (a client config edited). run
// checks the command before it acts on anything: it does not ask the
// keyring or make the cell's folders, the refusal names the changed
// command, not the keyring, and so does the audit log. Control: the
// trusted command goes on to the keyring, where the item is missing.
func TestRunChecksCommandBeforeActing(t *testing.T) {
	home := testHome(t)
	project := t.TempDir()
	profile := filepath.Join(project, ".mcpcell.toml")
	item := "no-such-item-" + randomHex(t)
	os.WriteFile(profile, []byte("include = [\"default\"]\n[secrets]\nTOKEN = \""+item+"\"\n"), 0o600)
	trusted := []string{"/bin/sh", "-c", "echo TRUSTED >&2"}
	if _, stderr, rc := mcpcellIn(t, project, home, nil, append([]string{"trust", "--yes", "--profile", profile, "--"}, trusted...)...); rc != 0 {
		t.Fatalf("trust: exit %d\n%s", rc, stderr)
	}
	cells := filepath.Join(home, ".cache", "mcpcell", "cells")

	_, stderr, rc := mcpcellIn(t, project, home, nil, "run", "--profile", profile, "--", "/bin/sh", "-c", "echo EVIL >&2")
	want := "mcpcell: error: the server command changed: trusted: /bin/sh -c 'echo TRUSTED >&2'; now: /bin/sh -c 'echo EVIL >&2'"
	if rc != exitFailed || !strings.Contains(stderr, want) || strings.Contains(stderr, item) || strings.Contains(stderr, "secret") || strings.Contains(stderr, "EVIL\n") {
		t.Errorf("untrusted command: exit %d; stderr:\n%s\nwant %q and no word of the keyring", rc, stderr, want)
	}
	if _, err := os.Stat(cells); err == nil {
		t.Errorf("run made %s before it refused the command", cells)
	}
	// The audit log records the refusal, and no word of the keyring.
	if log := readAudit(t, home); !strings.Contains(log, "the server command changed") || strings.Contains(log, "secret") {
		t.Errorf("the audit log does not hold the refusal alone:\n%s", log)
	}

	// Control: the trusted command passes the check and reaches the
	// keyring, which has no such item.
	_, stderr, rc = mcpcellIn(t, project, home, nil, append([]string{"run", "--profile", profile, "--"}, trusted...)...)
	if rc != exitFailed || !strings.Contains(stderr, "the server is not started without its secrets") || strings.Contains(stderr, "command changed") || strings.Contains(stderr, "TRUSTED") {
		t.Errorf("trusted command: exit %d; stderr:\n%s", rc, stderr)
	}
	if log := readAudit(t, home); !strings.Contains(log, "the server is not started without its secrets") {
		t.Errorf("the trusted command did not reach the keyring:\n%s", log)
	}
}
