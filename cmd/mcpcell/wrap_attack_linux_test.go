package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/profiles/clientconf"
)

// wrapAt runs wrap or unwrap of a client's config with ${CONFIG} under
// root/home/.config; out is stdout and stderr together.
func wrapAt(root, client, path string, args ...string) (string, error) {
	cmd := mcpcellCmd(append(args, "--client", client, "--config", path)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(root, "home", ".config"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func sha(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }

// The review's attack on requirement 8, and its neighbours: credentials
// given by form (a password in a URL, a webhook URL, a header…), one named
// like a credential whose value holds an unbraced $, and credentials on
// command lines. After wrap, no file holds one that wrap moved; those it
// cannot move (arguments, a URL of a server it does not run) are only
// where they were, in the config, and so in its backup, and wrap says so,
// masked; nothing it writes copies one. The server still gets every
// value. Control: the same search finds each value in the config before,
// and the GitHub token, moved by name, is gone as it was before the fix.
func TestWrapLeavesNoCredentialInFiles(t *testing.T) {
	needKeyring(t)
	root := t.TempDir()
	path := filepath.Join(root, "home", ".config", "Claude", "claude_desktop_config.json")
	bin, _ := filepath.EvalSymlinks(os.Args[0])
	id := randomHex(t)
	control := "ghp_CONTROL" + id
	moved := map[string]string{
		"DATABASE_URL":      "postgres://admin:ENVURLpassw0rd-" + id + "@db.internal/prod",
		"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0000/B0000/WEBHOOK" + id,
		"DB_PASSWORD":       "Tr0ub4dor$Horse-" + id,
		"REDIS_URL":         "redis://:r3dis-" + id + "@localhost:6379/0",
		"DISCORD":           "https://discord.com/api/webhooks/123456/" + id + "abcdefABCDEF",
		"SENTRY_DSN":        "https://" + id + id + id + "@o1.ingest.sentry.io/1",
		"EXTRA_HEADER":      "Authorization: Bearer " + id + "Bearer",
		"CONNECTION":        "Server=db;Password=Pw-" + id + ";",
		"API_KEY":           "${API_KEY}" + id, // Claude Desktop fills in nothing
	}
	plain := map[string]string{"MODE": "fast", "DATA_DIR": "${HOME}/data"}
	inArgs := map[string]string{
		"postgres": "postgresql://admin:ARGpassw0rd-" + id + "@db.internal/prod",
		"openai":   "sk-proj-ARGSKEY" + id,
		"docker":   "GITHUB_TOKEN=ghp_DOCKER" + id,
	}
	remote := "https://mcp.example.com/mcp?token=REMOTE" + id
	var env []string
	for _, m := range []map[string]string{moved, plain} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			env = append(env, jsonString(k)+": "+jsonString(m[k]))
		}
	}
	orig := `{
  "mcpServers": {
    "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "` + control + `"}},
    "postgres": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres", ` + jsonString(inArgs["postgres"]) + `]},
    "openai": {"command": "npx", "args": ["-y", "some-openai-mcp", "--api-key", ` + jsonString(inArgs["openai"]) + `]},
    "docker": {"command": "docker", "args": ["run", "-i", "--rm", "-e", ` + jsonString(inArgs["docker"]) + `, "ghcr.io/github/github-mcp-server"]},
    "db": {"command": ` + jsonString(bin) + `, "args": ["__fakeserver"], "env": {` + strings.Join(env, ", ") + `}},
    "remote": {"url": ` + jsonString(remote) + `}
  }
}
`
	writeConfig(t, path, orig)
	items := []string{"claude-desktop-github-github_personal_access_token"}
	for k := range moved {
		items = append(items, "claude-desktop-db-"+strings.ToLower(k))
	}
	cleanItems(t, items...)
	all := slices.Concat([]string{control, remote}, slices.Collect(maps.Values(moved)), slices.Collect(maps.Values(inArgs)))
	for _, v := range all {
		if got := filesHolding(t, root, v); len(got) != 1 {
			t.Fatalf("control: files holding %q before wrap: %v", v, got)
		}
	}

	out, err := wrapAt(root, "claude-desktop", path, "wrap", "--yes")
	if err != nil {
		t.Fatalf("wrap: %v\n%s", err, out)
	}
	backups, _ := filepath.Glob(path + ".mcpcell-backup-*")
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	// What wrap prints holds no credential, moved or not.
	for _, v := range all {
		if f := formIn(out, v); f != "" || strings.Contains(out, id) {
			t.Errorf("wrap's output holds a credential (%q):\n%s", f, out)
			break
		}
	}
	// Moved ones are in no file; the keyring has them.
	for k, v := range moved {
		if got := filesHolding(t, root, v); len(got) > 0 {
			t.Errorf("after wrap, files hold %s: %v", k, got)
		}
		if ringValue(t, "claude-desktop-db-"+strings.ToLower(k)) != v {
			t.Errorf("%s is not in the keyring", k)
		}
	}
	if got := filesHolding(t, root, control); len(got) > 0 || ringValue(t, items[0]) != control {
		t.Errorf("control: the GitHub token is in files %v, or not in the keyring", got)
	}
	// Those wrap cannot move are in the config and its backup only (not
	// in a profile), and wrap warns, naming server and argument, masked.
	for _, v := range append(slices.Collect(maps.Values(inArgs)), remote) {
		got := filesHolding(t, root, v)
		slices.Sort(got)
		if len(got) != 2 || !strings.HasPrefix(got[0], path+" ") || !strings.HasPrefix(got[1], backups[0]+" ") {
			t.Errorf("files holding %q: %v, want the config and its backup", v, got)
		}
	}
	for _, w := range []string{
		`mcpcell: warning: postgres: args[2] "postgresql://admin:****@db.internal/prod" is a credential on the server's command line, where wrap cannot take it from: it stays in the config and in its backup`,
		`mcpcell: warning: openai: args[3] "****" (the value of --api-key) is a credential on the server's command line`,
		`mcpcell: warning: docker: args[4] "GITHUB_TOKEN=****" is a credential on the server's command line`,
		`mcpcell: backup: ` + backups[0] + ` (mode 0600), with no secret that left the config (a credential in the keyring stands there as "mcpcell-keyring:ITEM", and unwrap --restore-secrets brings it back); like the config, it still holds 4 credentials that wrap cannot move: mcpServers.postgres.args[2], mcpServers.openai.args[3], mcpServers.docker.args[4], mcpServers.remote.url`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("wrap does not say %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "with no secret in it") {
		t.Errorf("wrap says the backup holds no secret:\n%s", out)
	}

	// The server still gets every value, as the client starts it.
	text, _ := os.ReadFile(path)
	f, err := clientconf.Parse(clientconf.ClaudeDesktop, path, text)
	if err != nil {
		t.Fatal(err)
	}
	var db *clientconf.Entry
	for _, e := range f.Entries {
		if e.Name == "db" {
			db = e
		}
		if len(e.Args) > 2 && e.Args[0] == "run" {
			if out, err := mcpcellCmd("check", "--profile", e.Args[2]).CombinedOutput(); err != nil {
				t.Errorf("%s: check of the written profile: %v\n%s", e.Name, err, out)
			}
		}
	}
	cmd := exec.Command(os.Args[0], append([]string{"__mcpcell"}, db.Args...)...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(root, "state"), "XDG_CACHE_HOME="+filepath.Join(root, "cache"), "GORACE="+quickExit())
	for _, kv := range db.Env {
		cmd.Env = append(cmd.Env, kv.Key+"="+kv.Value)
	}
	s := startSession(t, cmd)
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	for i, m := range []map[string]string{moved, plain} {
		for k, v := range m {
			if got := resultText(s.call(10+i*100+len(k), "tools/call", fmt.Sprintf(`{"name":"env_hash","arguments":{"name":%q}}`, k))); got != sha(v) {
				t.Errorf("the server's %s is not the config's", k)
			}
		}
	}
	s.in.Close()
	s.cmd.Wait()
}
