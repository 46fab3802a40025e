package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/audit"
)

// logRecords reads every audit log under state, failing on an empty one.
func logRecords(t *testing.T, state string) map[string][]audit.Record {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(state, "mcpcell", "audit", "*.jsonl"))
	out := map[string][]audit.Record{}
	for _, name := range logs {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Errorf("%s is an empty audit log", name)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r audit.Record
			if json.Unmarshal([]byte(line), &r) == nil {
				out[name] = append(out[name], r)
			}
		}
	}
	return out
}

// Every start run refuses, once the profile is known, writes exactly one
// deny start record naming the cause, matching what the user saw; none
// leaves an empty log. An untrusted profile file is logged in the
// default log of its name, never at its own [audit] path.
func TestRefusedStartRecords(t *testing.T) {
	bin, _ := filepath.EvalSymlinks(os.Args[0])
	outside := t.TempDir() // holds a server no exec grant covers
	stray := filepath.Join(outside, "server")
	if err := os.WriteFile(stray, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		profile string   // after writeProfile's includes; %AUDIT% is a path beside the project
		trust   []string // trusted with this command (nil: not trusted)
		command []string
		env     []string
		note    string // the deny start record's note begins with this
		stderr  string
		logged  bool // false: the refusal can only be printed
		noTrust bool // a profile trust refuses: run's trust check is off
	}{
		{name: "untrusted profile", profile: "[audit]\npath = \"%AUDIT%\"\n", command: []string{bin, "__fakeserver"},
			note: "profile: profile ", stderr: "is new or changed since you trusted it", logged: true},
		{name: "own folder in a write grant", profile: "[filesystem]\nwrite = [\"%STATE%\"]\n", noTrust: true, command: []string{bin, "__fakeserver"},
			note: "profile: ", stderr: "lies in mcpcell's own folder", logged: true},
		{name: "no server command", trust: []string{}, note: "command: no server command", stderr: "no server command", logged: true},
		{name: "command not trusted", trust: []string{bin, "__fakeserver"}, command: []string{bin, "__fakeserver", "--other"},
			note: "trust: the server command changed", stderr: "the server command changed", logged: true},
		{name: "secret missing", profile: "[secrets]\nTOKEN = \"no-such-item-4711\"\n[env]\nset = { DBUS_SESSION_BUS_ADDRESS = \"unix:path=/nonexistent\" }\n", trust: []string{bin, "__fakeserver"}, command: []string{bin, "__fakeserver"},
			env: []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent"}, note: "secrets: ", stderr: "the server is not started without its secrets", logged: true},
		{name: "kernel refused", profile: "[network]\nports = [5432]\n", trust: []string{bin, "__fakeserver"}, command: []string{bin, "__fakeserver"},
			env: []string{"MCPCELL_PRETEND_LANDLOCK_ABI=3"}, note: "sandbox: this kernel cannot enforce the cell as written", stderr: "this kernel cannot enforce the cell", logged: true},
		{name: "working folder not granted", profile: "[server]\ncwd = \"" + outside + "\"\n", trust: []string{bin, "__fakeserver"}, command: []string{bin, "__fakeserver"},
			note: "filesystem: the server's working folder", stderr: "is not inside a granted path", logged: true},
		{name: "command outside exec grants", trust: []string{stray}, command: []string{stray},
			note: "command: the server command " + stray, stderr: "which no exec grant covers", logged: true},
		{name: "grant does not resolve", profile: "[filesystem]\nread = [\"" + outside + "/missing\"]\n", noTrust: true, command: []string{bin, "__fakeserver"},
			note: "profile: ", stderr: outside + "/missing", logged: true},
		{name: "audit log unwritable", profile: "[audit]\npath = \"/proc/mcpcell-nope/a.jsonl\"\n", trust: []string{bin, "__fakeserver"}, command: []string{bin, "__fakeserver"},
			stderr: "cannot open the audit log, so the server is not started"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			xdg := dir + "-xdg"
			ownAudit := filepath.Join(dir+"-own", "log.jsonl")
			text := strings.NewReplacer("%AUDIT%", ownAudit, "%STATE%", filepath.Join(xdg, "state", "mcpcell")).Replace(tc.profile)
			profile := writeProfileIn(t, dir, text)
			env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(xdg, "state"), "XDG_CACHE_HOME="+filepath.Join(xdg, "cache"), "GORACE="+quickExit())
			env = append(env, tc.env...)
			if tc.noTrust {
				env = append(env, noTrustEnv+"=1")
			}
			if tc.trust != nil {
				trustProfile(t, env, profile, tc.trust...)
			}
			args := append([]string{"__mcpcell", "run", "--profile", profile, "--"}, tc.command...)
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = env
			cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("run started the server:\n%s", out)
			}
			if !strings.Contains(string(out), "mcpcell: error: ") || !strings.Contains(string(out), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, out)
			}
			if _, err := os.Stat(ownAudit); err == nil {
				t.Errorf("%s was written: the untrusted file's [audit] path", ownAudit)
			}
			logs := logRecords(t, filepath.Join(xdg, "state"))
			if !tc.logged {
				if len(logs) != 0 {
					t.Errorf("logs %v, want none", logs)
				}
				return
			}
			if len(logs) != 1 {
				t.Fatalf("audit logs %v, want one", logs)
			}
			for name, recs := range logs {
				if len(recs) != 1 || recs[0].Decision != "deny" || recs[0].Rule != "start" || !strings.HasPrefix(recs[0].Note, tc.note) {
					t.Errorf("%s: got %+v, want one deny start record, note %q…", name, recs, tc.note)
				}
				// The note says what the user saw.
				if msg, _ := strings.CutPrefix(recs[0].Note, strings.SplitN(tc.note, ":", 2)[0]+": "); !strings.Contains(string(out), strings.SplitN(msg, ";", 2)[0]) {
					t.Errorf("note %q is not what stderr said:\n%s", recs[0].Note, out)
				}
			}
		})
	}
}

// The default log an untrusted profile's refusal goes to is not followed
// through a link planted there: the file it points to stays as it was.
// (TestRefusedStartRecords' untrusted case is the control: with no link
// the record is written.)
func TestRefusedUntrustedNoLink(t *testing.T) {
	dir := t.TempDir()
	xdg := dir + "-xdg"
	profile := writeProfileIn(t, dir, "")
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(xdg, "state"), "XDG_CACHE_HOME="+filepath.Join(xdg, "cache"))
	// The log's name, as check shows it.
	cmd := exec.Command(os.Args[0], "__mcpcell", "check", "--profile", profile)
	cmd.Env = env
	out, _ := cmd.CombinedOutput()
	m := regexp.MustCompile(`audit log: +(\S+\.jsonl)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("check names no audit log:\n%s", out)
	}
	logPath := string(m[1])
	canary := filepath.Join(t.TempDir(), "canary")
	os.WriteFile(canary, nil, 0o600) // empty: a log Open would take
	os.MkdirAll(filepath.Dir(logPath), 0o700)
	if err := os.Symlink(canary, logPath); err != nil {
		t.Fatal(err)
	}
	run := exec.Command(os.Args[0], "__mcpcell", "run", "--profile", profile, "--", os.Args[0], "__fakeserver")
	run.Env = env
	if out, err := run.CombinedOutput(); err == nil || !strings.Contains(string(out), "is new or changed since you trusted it") {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(canary); len(b) != 0 {
		t.Errorf("the link's target was written: %q", b)
	}
}

// A start refused before any profile file is read (the --profile file is
// not there; the embedded default refuses the home folder as project) is
// one deny start record in the embedded default's log, mcpcell's own.
func TestRefusedStartWithoutProfileFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  func(home string) string
		args []string
		note string
	}{
		{"profile file not there", func(string) string { return t.TempDir() }, []string{"--profile", "/nonexistent/.mcpcell.toml"}, "profile: --profile /nonexistent/.mcpcell.toml: there is no such file"},
		{"home folder as project", func(home string) string { return home }, nil, "profile: no profile file names a project, and the working folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := testHome(t)
			args := append(append([]string{"run"}, tc.args...), "--", "/usr/bin/true")
			_, stderr, code := mcpcellIn(t, tc.dir(home), home, nil, args...)
			if code != exitFailed {
				t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, stderr)
			}
			logs := logRecords(t, filepath.Join(home, ".local", "state"))
			recs := logs[filepath.Join(home, ".local", "state", "mcpcell", "audit", "default.jsonl")]
			if len(logs) != 1 || len(recs) != 1 || recs[0].Decision != "deny" || recs[0].Rule != "start" || !strings.HasPrefix(recs[0].Note, tc.note) {
				t.Errorf("logs %+v, want one deny start record in default.jsonl, note %q…", logs, tc.note)
			}
		})
	}
}

// The lines run and trust say of a start name the project, whose folder
// name is the file system's (a repository's): its control characters are
// escaped, so a name cannot erase the line above it or start a forged
// "mcpcell: hint:" line. The control: the folder's name holds them raw.
func TestStartLineEscapesProject(t *testing.T) {
	home := testHome(t)
	dir := filepath.Join(t.TempDir(), "p\x1b[1A\x1b[2K\rmcpcell: hint: fine")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dir, "\x1b[1A") || !strings.Contains(dir, "\r") {
		t.Fatalf("control: the folder name %q lost its control characters", dir)
	}
	profile := writeProfileIn(t, dir, "")
	bin, _ := filepath.EvalSymlinks(os.Args[0])
	_, trustErr, code := mcpcellIn(t, dir, home, nil, "trust", "--yes", "--profile", profile, "--", bin, "__fakeserver")
	if code != 0 {
		t.Fatalf("trust: exit %d\n%s", code, trustErr)
	}
	_, runErr, _ := mcpcellIn(t, dir, home, nil, "run", "--profile", profile, "--", bin, "__fakeserver")
	for name, out := range map[string]string{"trust": trustErr, "run": runErr} {
		if strings.ContainsAny(out, "\x1b\r") {
			t.Errorf("%s printed a raw control character:\n%q", name, out)
		}
		if !strings.Contains(out, `p\x1b[1A\x1b[2K\rmcpcell: hint: fine`) {
			t.Errorf("%s does not name the project, escaped:\n%s", name, out)
		}
	}
}
