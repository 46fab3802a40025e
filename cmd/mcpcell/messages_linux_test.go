package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A server command run cannot start says what is true of it: a name no
// folder of the cell's PATH holds (and which PATH), a path that does not
// exist, or a file outside every exec grant (and, for a runtime such as
// node, the one the grants hold). Only the last speaks of exec grants.
func TestServerCommandMessages(t *testing.T) {
	project := t.TempDir()
	home := testHome(t)
	path := os.Getenv("PATH")
	envCopy := filepath.Join(project, "bin", "env") // named as a granted program, not it
	os.MkdirAll(filepath.Dir(envCopy), 0o755)
	os.WriteFile(envCopy, []byte("#!/bin/sh\n"), 0o755)
	other := filepath.Join(project, "bin", "zzz-server")
	os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755)
	for _, c := range []struct {
		name    string
		command string
		want    []string
		wantNot string
	}{
		{"not on the PATH", "zzz-no-such-server", []string{
			"mcpcell: error: the server command zzz-no-such-server: no folder of the server's PATH (" + path + ") holds zzz-no-such-server\n",
			"mcpcell: hint: give the command's absolute path (-- /path/to/zzz-no-such-server …), or add its folder to PATH in the profile's [env] set",
		}, "exec grant"},
		{"missing", filepath.Join(project, "nope"), []string{
			"mcpcell: error: the server command " + filepath.Join(project, "nope") + " does not exist\n",
			"mcpcell: hint: give the path of the server's program as it is on this machine\n",
		}, "exec grant"},
		{"another of a granted name", envCopy, []string{
			"mcpcell: error: the server command " + envCopy + ", which no exec grant covers (they hold another env: /usr/bin/env)\n",
			"mcpcell: hint: grant it in the profile: [filesystem] exec = [\"" + envCopy + "\"]",
		}, "PATH"},
		{"not granted", other, []string{
			"mcpcell: error: the server command " + other + ", which no exec grant covers\n",
			"mcpcell: hint: grant it in the profile: [filesystem] exec = [\"" + other + "\"]",
		}, "another"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := mcpcellIn(t, project, home, nil, "run", "--project", project, "--", c.command)
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("run -- %s: exit %d, stderr:\n%s\nwant %q", c.command, code, stderr, w)
				}
			}
			if code != exitFailed || strings.Contains(stderr, c.wantNot) {
				t.Errorf("run -- %s: exit %d (want %d), stderr (want no %q):\n%s", c.command, code, exitFailed, c.wantNot, stderr)
			}
		})
	}
}

// wrap without a configuration file says whose and where it looked.
func TestWrapMissingConfigMessages(t *testing.T) {
	_, stderr, rc := cliFresh(t, "wrap", "--client", "claude-desktop")
	want := regexp.MustCompile(`^mcpcell: error: wrap: claude-desktop has no configuration where it keeps one on this machine, /\S+/\.config/Claude/claude_desktop_config\.json
mcpcell: hint: give the client's configuration file with --config
$`)
	if rc != exitFailed || !want.MatchString(stderr) {
		t.Errorf("wrap --client claude-desktop: exit %d, stderr:\n%s\nwant %s", rc, stderr, want)
	}
	_, stderr, rc = cliFresh(t, "wrap", "--client", "cursor", "--config", "/nonexistent/mcp.json")
	if want := "mcpcell: error: wrap: there is no file /nonexistent/mcp.json (--config)\nmcpcell: hint: give the path of the client's configuration file\n"; rc != exitFailed || stderr != want {
		t.Errorf("wrap --config /nonexistent/mcp.json: exit %d, stderr:\n%s\nwant:\n%s", rc, stderr, want)
	}
}

// check's refusal of a profile's [server] command says what to do about
// the command, not about the kernel.
func TestCheckServerCommandHint(t *testing.T) {
	project := t.TempDir()
	profile := filepath.Join(project, ".mcpcell.toml")
	os.WriteFile(profile, []byte("include = [\"base\"]\n[server]\ncommand = [\"zzz-no-such-server\"]\n"), 0o600)
	_, stderr, code := mcpcellIn(t, project, testHome(t), nil, "check", "--profile", profile)
	for _, want := range []string{
		"mcpcell: error: mcpcell run would refuse to start: the server command zzz-no-such-server: no folder of the server's PATH (",
		"mcpcell: hint: give the command's absolute path",
	} {
		if code != 1 || !strings.Contains(stderr, want) || strings.Contains(stderr, "kernel") {
			t.Errorf("check: exit %d (want 1), stderr:\n%s\nwant %q and nothing of the kernel", code, stderr, want)
		}
	}
}
