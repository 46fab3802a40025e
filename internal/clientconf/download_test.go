package clientconf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/profiles"
)

// TestWrapDownloaders wraps servers that a package runner downloads at
// start: the profile wrap writes includes the preset of the runner's
// registry, and loads with that registry's hosts and no others; a
// server started otherwise gets no host; a kept profile is left as it is,
// with a note.
func TestWrapDownloaders(t *testing.T) {
	text := `{"mcpServers": {
  "npx": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]},
  "npx-path": {"command": "/usr/local/bin/npx", "args": ["-y", "pkg"]},
  "uvx": {"command": "uvx", "args": ["mcp-server-fetch"]},
  "uv-tool-run": {"command": "uv", "args": ["tool", "run", "mcp-server-fetch"]},
  "uv-run": {"command": "uv", "args": ["run", "server.py"]},
  "bunx": {"command": "bunx", "args": ["pkg"]},
  "node": {"command": "node", "args": ["server.js"]},
  "kept": {"command": "npx", "args": ["-y", "pkg"]}}}`
	f := parse(t, ClaudeDesktop, "/h/.config/Claude/claude_desktop_config.json", text)
	cfg := t.TempDir()
	kept := filepath.Join(cfg, "wrapped", "claude-desktop", "kept", ".mcpcell.toml")
	exists := func(p string) bool { return p == kept }
	servers, err := PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", ConfigDir: cfg, Exists: exists, IsDir: func(string) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		include string
		hosts   []string
		note    string
	}{
		"npx":         {`include = ["default", "npm"]`, []string{"registry.npmjs.org:443"}, `npx downloads the server when it starts: the profile includes "npm", which reaches the npm registry and nothing else`},
		"npx-path":    {`include = ["default", "npm"]`, []string{"registry.npmjs.org:443"}, `npx downloads the server when it starts: the profile includes "npm", which reaches the npm registry and nothing else`},
		"uvx":         {`include = ["default", "pypi"]`, []string{"pypi.org:443", "files.pythonhosted.org:443"}, `uvx downloads the server when it starts: the profile includes "pypi", which reaches the Python Package Index and nothing else`},
		"uv-tool-run": {`include = ["default", "pypi"]`, []string{"pypi.org:443", "files.pythonhosted.org:443"}, `uv tool run downloads the server when it starts: the profile includes "pypi", which reaches the Python Package Index and nothing else`},
		"uv-run":      {`include = ["default"]`, nil, ""},
		"bunx":        {`include = ["default"]`, nil, "bunx downloads the server when it starts, and keeps it where the cell cannot write: install the server once and run it with node instead"},
		"node":        {`include = ["default"]`, nil, ""},
		"kept":        {"", nil, `npx downloads the server when it starts: the kept profile reaches the npm registry only if it includes "npm"`},
	}
	for _, s := range servers {
		w := want[s.Entry.Name]
		var notes []string
		for _, n := range s.Notes {
			if strings.Contains(n, "downloads") {
				notes = append(notes, n)
			}
		}
		if w.note == "" && len(notes) > 0 || w.note != "" && !slices.Equal(notes, []string{w.note}) {
			t.Errorf("%s: notes %q, want %q", s.Entry.Name, notes, w.note)
		}
		if w.include == "" {
			if s.ProfileText != "" {
				t.Errorf("%s: a kept profile is written again:\n%s", s.Entry.Name, s.ProfileText)
			}
			continue
		}
		if !strings.Contains(s.ProfileText, "\n"+w.include+"  # ") {
			t.Errorf("%s: no %s in the profile:\n%s", s.Entry.Name, w.include, s.ProfileText)
		}
		// The profile loads, with the registry's hosts alone.
		path := filepath.Join(t.TempDir(), ".mcpcell.toml")
		if err := os.WriteFile(path, []byte(s.ProfileText), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := profiles.Load(profiles.Options{Profile: path, Getenv: func(k string) string { return map[string]string{"HOME": "/home/u"}[k] }})
		if err != nil {
			t.Fatalf("%s: the profile does not load: %v\n%s", s.Entry.Name, err, s.ProfileText)
		}
		var hosts []string
		for _, h := range p.Hosts {
			hosts = append(hosts, h.Value)
		}
		if !slices.Equal(hosts, w.hosts) {
			t.Errorf("%s: hosts %q, want %q", s.Entry.Name, hosts, w.hosts)
		}
	}
}
