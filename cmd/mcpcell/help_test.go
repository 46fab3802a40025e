package main

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// cliFresh runs the real CLI (this test binary) with args, HOME and the
// XDG folders in a fresh folder, and returns its stdout, stderr and
// exit status.
func cliFresh(t *testing.T, args ...string) (stdout, stderr string, rc int) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(os.Args[0], append([]string{"__mcpcell"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_STATE_HOME="+home+"/state", "XDG_CACHE_HOME="+home+"/cache", "XDG_CONFIG_HOME="+home+"/config")
	cmd.Dir = home
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		rc = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), rc
}

// helpPrefixes are arguments that come before -h in a command's test:
// flags it takes, a subcommand's word. A command not named here (a new
// one) is tried with --profile, which newFlags gives it.
var helpPrefixes = map[string][][]string{
	"version": {nil},
	"help":    {nil},
	"wrap":    {nil, {"--client", "x"}, {"--dry-run", "--client", "x"}},
	"unwrap":  {nil, {"--client", "x"}, {"--restore-secrets"}},
	"secret":  {nil, {"set"}, {"rm"}, {"ls"}, {"check"}, {"check", "--profile", "x"}},
	"setup":   {nil, {"apparmor"}, {"apparmor", "--write"}},
	"audit":   {nil, {"--profile", "x"}, {"--verify", "--follow"}},
	"trust":   {nil, {"--profile", "x"}, {"--yes", "--tools", "--project", "/"}},
}

// Every command, and every subcommand, prints its own help on stdout for
// -h, -help and --help anywhere among its flags, and exits 0; so does
// mcpcell help COMMAND.
func TestHelpEveryCommand(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(helps)) {
		prefixes, ok := helpPrefixes[name]
		if !ok {
			prefixes = [][]string{nil, {"--profile", "x"}, {"--profile", "x", "--project", "/"}}
		}
		for _, pre := range prefixes {
			for _, h := range []string{"-h", "-help", "--help"} {
				args := append(append([]string{name}, pre...), h)
				t.Run(strings.Join(args, " "), func(t *testing.T) {
					t.Parallel()
					stdout, stderr, rc := cliFresh(t, args...)
					if rc != 0 || stdout != helps[name] || stderr != "" {
						t.Errorf("mcpcell %s: rc %d, stdout %q, stderr %q; want rc 0, the help of %s on stdout, nothing on stderr", strings.Join(args, " "), rc, stdout, stderr, name)
					}
				})
			}
		}
		t.Run("help "+name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, rc := cliFresh(t, "help", name)
			if rc != 0 || stdout != helps[name] || stderr != "" {
				t.Errorf("mcpcell help %s: rc %d, stdout %q, stderr %q", name, rc, stdout, stderr)
			}
		})
	}
}

// After -- (or after the first word of a server command) -h is the
// server's argument: run and trust go on to the profile, which here does
// not exist, and print no help.
func TestHelpIsTheServersAfterCommand(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--profile", "/nonexistent.toml", "--", "node", "-h"},
		{"run", "--profile", "/nonexistent.toml", "--", "-h"},
		{"run", "--profile", "/nonexistent.toml", "node", "--help"},
		{"trust", "--yes", "--profile", "/nonexistent.toml", "--", "node", "-help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			stdout, stderr, rc := cliFresh(t, args...)
			if rc == 0 || strings.Contains(stdout+stderr, "Usage:") || !strings.Contains(stderr, "/nonexistent.toml") {
				t.Errorf("mcpcell %s: rc %d, stdout %q, stderr %q; want the profile's error and no help", strings.Join(args, " "), rc, stdout, stderr)
			}
		})
	}
}

// A flag error is a usage error (exit 2) that points to the command's help.
func TestFlagErrorPointsToHelp(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--bogus"}, {"check", "--bogus"}, {"trust", "--bogus"}, {"audit", "--bogus"},
		{"wrap", "--bogus"}, {"unwrap", "--bogus"}, {"secret", "check", "--bogus"}, {"setup", "apparmor", "--bogus"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			stdout, stderr, rc := cliFresh(t, args...)
			want := "mcpcell: hint: mcpcell help " + args[0] + " shows its usage\n"
			if rc != exitUsage || stdout != "" || !strings.Contains(stderr, "mcpcell: error: ") || !strings.Contains(stderr, "-bogus") || !strings.HasSuffix(stderr, want) {
				t.Errorf("mcpcell %s: rc %d, stdout %q, stderr %q; want rc 2 and %q", strings.Join(args, " "), rc, stdout, stderr, want)
			}
		})
	}
	stdout, stderr, rc := cliFresh(t, "help", "frobnicate")
	if rc != exitUsage || stdout != "" || !strings.Contains(stderr, `no help for "frobnicate"`) {
		t.Errorf("mcpcell help frobnicate: rc %d, stdout %q, stderr %q", rc, stdout, stderr)
	}
}
