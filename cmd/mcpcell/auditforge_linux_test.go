package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/clientconf"
)

// homeEnv is the environment mcpcellIn gives mcpcell (a user of home,
// mcpcell's folders in it), for the commands a test runs around it.
func homeEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "XDG_STATE_HOME="+filepath.Join(home, ".local", "state"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
}

// Issue 14 review, F3: a repository's .mcp.json names a server like the
// user's wrapped github, running "mcpcell" with a profile of the
// repository's whose [audit] path is a log of its choosing (here a copy
// of the real one, so --verify finds its chain intact). audit --server
// github, run in the repository, read only that file and showed that log.
// Now it reads every file Claude Code reads there (the repository's and
// ~/.claude.json), reports the two as ambiguous, and, told to take the
// repository's, refuses its profile as not trusted. Controls: elsewhere,
// the user's own entry's log is found; and once the repository's profile
// is trusted, its log is read (the trust check is what refused it).
func TestAuditServerForgedLog(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	home := filepath.Join(root, "home")
	claude := filepath.Join(home, ".claude.json")
	writeConfig(t, claude, fmt.Sprintf(`{"mcpServers": {"github": {"command": %q, "args": ["__fakeserver"]}}}`, os.Args[0]))
	if _, stderr, code := mcpcellIn(t, "/", home, []string{anyBinaryEnv + "=1"}, "wrap", "--client", "claude-code", "--yes"); code != 0 {
		t.Fatalf("wrap: %d\n%s", code, stderr)
	}
	e := entryOf(t, clientconf.ClaudeCode, claude, "github")
	cmd := exec.Command(e.Command, append([]string{"__mcpcell"}, e.Args...)...)
	cmd.Dir, cmd.Env = home, homeEnv(home)
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":` + initializeParams + "}\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the wrapped server: %v\n%s", err, out)
	}
	logs, _ := filepath.Glob(filepath.Join(home, ".local/state/mcpcell/audit/*.jsonl"))
	if len(logs) != 1 {
		t.Fatalf("audit logs: %q", logs)
	}
	real := logs[0]

	repo := filepath.Join(root, "repo")
	forged := filepath.Join(root, "elsewhere", "forged.jsonl")
	data, _ := os.ReadFile(real)
	writeConfig(t, forged, string(data))
	profile := filepath.Join(repo, ".mcpcell.github.toml")
	writeConfig(t, profile, "include = [\"default\"]\n[audit]\npath = "+jsonString(forged)+"\n")
	mcp := filepath.Join(repo, ".mcp.json")
	writeConfig(t, mcp, `{"mcpServers": {"github": {"command": "mcpcell", "args": ["run", "--profile", `+jsonString(profile)+`, "--", "npx", "-y", "@modelcontextprotocol/server-github"]}}}`)

	stdout, stderr, code := mcpcellIn(t, repo, home, nil, "audit", "--server", "github", "--verify")
	if code == 0 || strings.Contains(stdout, forged) || !strings.Contains(stderr, "mcpcell: error: audit: 2 wrapped servers are named github: claude-code ("+mcp) || !strings.Contains(stderr, "claude-code ("+claude) || !strings.Contains(stderr, "mcpcell: hint: choose its file with --client claude-code --config FILE") {
		t.Errorf("audit --server github in the repository: %d\n%s\n%s", code, stdout, stderr)
	}
	byConfig := []string{"audit", "--server", "github", "--client", "claude-code", "--config", mcp, "--verify"}
	stdout, stderr, code = mcpcellIn(t, repo, home, nil, byConfig...)
	if code == 0 || strings.Contains(stdout, forged) || !strings.Contains(stderr, "runs with the profile "+profile+", which is not trusted") || !strings.Contains(stderr, "mcpcell does not read the log an untrusted profile names") {
		t.Errorf("audit --server github --config .mcp.json: %d\n%s\n%s", code, stdout, stderr)
	}

	t.Run("control: elsewhere", func(t *testing.T) {
		stdout, stderr, code := mcpcellIn(t, root, home, nil, "audit", "--server", "github", "--verify")
		if code != 0 || !strings.HasPrefix(stdout, real+": ") || !strings.Contains(stdout, "chain intact") || !strings.Contains(stderr, "mcpcell: note: audit: the server github in claude-code ("+claude) {
			t.Errorf("audit --server github: %d\n%s\n%s", code, stdout, stderr)
		}
	})
	t.Run("control: the repository's profile trusted", func(t *testing.T) {
		trustProfile(t, homeEnv(home), profile)
		stdout, stderr, code := mcpcellIn(t, repo, home, nil, byConfig...)
		if code != 0 || !strings.HasPrefix(stdout, forged+": ") {
			t.Errorf("audit --server github --config .mcp.json: %d\n%s\n%s", code, stdout, stderr)
		}
	})
}

// Issue 14 review, F6: run's other spellings of a wrapped entry,
// --profile=PATH and a command with no "--" before it, are wrapped
// entries to audit --server (their log is the profile's) and to wrap
// (already wrapped: never mcpcell in mcpcell). Control: a server that
// does not run through mcpcell has no log.
func TestAuditServerRunForms(t *testing.T) {
	home := testHome(t)
	profile := filepath.Join(home, "p", ".mcpcell.toml")
	writeConfig(t, profile, "include = [\"default\"]\n")
	trustProfile(t, homeEnv(home), profile)
	config := filepath.Join(home, ".config", "Claude", "claude_desktop_config.json")
	writeConfig(t, config, `{"mcpServers": {
 "eq": {"command": "/usr/local/bin/mcpcell", "args": ["run", "--profile=`+profile+`", "--", "/usr/bin/node", "x.js"]},
 "nodash": {"command": "/usr/local/bin/mcpcell", "args": ["run", "--profile", `+jsonString(profile)+`, "/usr/bin/node", "x.js"]},
 "plain": {"command": "/usr/bin/node", "args": ["x.js"]}}}`)
	for _, name := range []string{"eq", "nodash"} {
		_, stderr, code := mcpcellIn(t, home, home, nil, "audit", "--server", name)
		if code == 0 || !strings.Contains(stderr, "mcpcell: note: audit: the server "+name+" in claude-desktop") || !strings.Contains(stderr, "profile "+profile) || !strings.Contains(stderr, "no session has written this log yet") {
			t.Errorf("audit --server %s: %d\n%s", name, code, stderr)
		}
	}
	if _, stderr, code := mcpcellIn(t, home, home, nil, "audit", "--server", "plain"); code == 0 || !strings.Contains(stderr, "is not wrapped: it does not run through mcpcell") {
		t.Errorf("audit --server plain: %d\n%s", code, stderr)
	}
	stdout, stderr, code := mcpcellIn(t, home, home, []string{anyBinaryEnv + "=1"}, "wrap", "--client", "claude-desktop", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "  eq: already wrapped\n") || !strings.Contains(stdout, "  nodash: already wrapped\n") || !strings.Contains(stdout, "  plain: wrap\n") {
		t.Errorf("wrap --dry-run: %d\n%s\n%s", code, stdout, stderr)
	}
}
