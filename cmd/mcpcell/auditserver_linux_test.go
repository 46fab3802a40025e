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

// audit --server finds the log of a server wrap wrapped, by the name the
// client's configuration gives it: a real wrap of two clients'
// configurations, a real session of one (the fake server), then the
// name alone (in both: an error listing them), with --client (the
// session's records), and a name that no client has (an error listing
// the wrapped ones).
func TestAuditServer(t *testing.T) {
	home := testHome(t)
	entry := fmt.Sprintf(`{"command": %q, "args": ["__fakeserver"]}`, os.Args[0])
	configs := map[clientconf.Client]string{
		clientconf.ClaudeDesktop: filepath.Join(home, ".config", "Claude", "claude_desktop_config.json"),
		clientconf.ClaudeCode:    filepath.Join(home, ".claude.json"),
	}
	texts := map[clientconf.Client]string{
		clientconf.ClaudeDesktop: fmt.Sprintf(`{"mcpServers": {"everything": %s, "other": %s}}`, entry, entry),
		clientconf.ClaudeCode:    fmt.Sprintf(`{"mcpServers": {"everything": %s, "solo": %s}}`, entry, entry),
	}
	for cl, path := range configs {
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, []byte(texts[cl]), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, stderr, code := mcpcellIn(t, home, home, []string{anyBinaryEnv + "=1"}, "wrap", "--client", string(cl), "--yes"); code != 0 {
			t.Fatalf("wrap --client %s: %d\n%s", cl, code, stderr)
		}
	}
	// The client starts Claude Code's everything as the config now says.
	text, _ := os.ReadFile(configs[clientconf.ClaudeCode])
	f, err := clientconf.Parse(clientconf.ClaudeCode, configs[clientconf.ClaudeCode], text, nil)
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, e := range f.Entries {
		if e.Name == "everything" {
			args = e.Args
		}
	}
	if len(args) == 0 || args[0] != "run" {
		t.Fatalf("the wrapped entry's args: %q", args)
	}
	cmd := exec.Command(os.Args[0], append([]string{"__mcpcell"}, args...)...)
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_STATE_HOME="+filepath.Join(home, ".local", "state"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}` + "\n" + `{"jsonrpc":"2.0","id":1,"method":"tools/list"}` + "\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"tools":[`) {
		t.Fatalf("the wrapped server: %v\n%s", err, out)
	}

	_, stderr, code := mcpcellIn(t, home, home, nil, "audit", "--server", "everything")
	if code == 0 || !strings.Contains(stderr, "mcpcell: error: audit: 2 wrapped servers are named everything: claude-desktop ("+configs[clientconf.ClaudeDesktop]) || !strings.Contains(stderr, "; claude-code ("+configs[clientconf.ClaudeCode]) || !strings.Contains(stderr, "mcpcell: hint: choose one with --client CLIENT") {
		t.Errorf("audit --server everything: %d\n%s", code, stderr)
	}
	stdout, stderr, code := mcpcellIn(t, home, home, nil, "audit", "--server", "everything", "--client", "claude-code")
	if code != 0 || !strings.Contains(stdout, " start ") || !strings.Contains(stdout, "tools/list") || !strings.Contains(stdout, " end ") {
		t.Errorf("audit --server everything --client claude-code: %d\n%s\n%s", code, stdout, stderr)
	}
	// Claude Desktop's everything never ran: its log is not there.
	if _, stderr, code := mcpcellIn(t, home, home, nil, "audit", "--server", "everything", "--client", "claude-desktop"); code == 0 || !strings.Contains(stderr, "no session has written this log yet") {
		t.Errorf("audit --server everything --client claude-desktop: %d\n%s", code, stderr)
	}
	_, stderr, code = mcpcellIn(t, home, home, nil, "audit", "--server", "nope")
	if code == 0 || !strings.Contains(stderr, "mcpcell: error: audit: no wrapped server is named nope") || !strings.Contains(stderr, "mcpcell: hint: the wrapped servers: everything (claude-desktop), other (claude-desktop), everything (claude-code), solo (claude-code)") {
		t.Errorf("audit --server nope: %d\n%s", code, stderr)
	}
}
