package clientconf

import (
	"strings"
	"testing"
)

func TestIsCredential(t *testing.T) {
	for _, c := range []struct {
		name, value string
		want        bool
	}{
		{"GITHUB_PERSONAL_ACCESS_TOKEN", "x", true},
		{"PGPASSWORD", "x", true},
		{"OPENAI_API_KEY", "x", true},
		{"BRAVE_API_KEY", "x", true},
		{"GITLAB_PAT", "x", true},
		{"AWS_SECRET_ACCESS_KEY", "x", true},
		{"SOMETHING", "ghp_abcdefgh", true},
		{"X", "xoxb-12345678", true},
		{"X", "AKIAABCDEFGH", true},
		{"KEYBOARD_LAYOUT", "us", false},
		{"NODE_ENV", "production", false},
		{"GITHUB_API_URL", "https://api.github.com", false},
		{"PATH_PREFIX", "/x", false},
	} {
		if got := isCredential(c.name, c.value); got != c.want {
			t.Errorf("isCredential(%s, %s) = %v", c.name, c.value, got)
		}
	}
}

// Comments and trailing commas are read; everything outside the edited
// entry is kept byte for byte.
func TestJSONCKept(t *testing.T) {
	text := `// top comment
{
  "servers": {
    /* one */ "a": {"command": "x", "args": ["y"],},
    "b": {"command": "z"} // tail
  },
}
`
	f, err := Parse(VSCode, "/p/.vscode/mcp.json", []byte(text))
	if err != nil || len(f.Entries) != 2 || f.Entries[0].Project != "/p" {
		t.Fatalf("Parse: %v %+v", err, f)
	}
	out := string(f.Apply([]Edit{{Entry: f.Entries[1], Members: []Member{{"command", []byte(`"new"`)}}}}))
	for _, keep := range []string{"// top comment", `/* one */ "a": {"command": "x", "args": ["y"],},`, "} // tail", "  },\n}\n"} {
		if !strings.Contains(out, keep) {
			t.Errorf("lost %q:\n%s", keep, out)
		}
	}
	if !strings.Contains(out, `"command": "new"`) {
		t.Errorf("edit missing:\n%s", out)
	}
}

func TestDefaultPaths(t *testing.T) {
	none := func(string) bool { return false }
	for _, c := range []struct {
		client Client
		goos   string
		want   string
	}{
		{ClaudeDesktop, "linux", "/h/.config/Claude/claude_desktop_config.json"},
		{ClaudeDesktop, "darwin", "/h/Library/Application Support/Claude/claude_desktop_config.json"},
		{ClaudeDesktop, "windows", `C:\AppData/Claude\claude_desktop_config.json`},
		{ClaudeCode, "linux", "/h/.claude.json"},
		{Cursor, "darwin", "/h/.cursor/mcp.json"},
		{VSCode, "linux", "/h/.config/Code/User/mcp.json"},
		{VSCode, "darwin", "/h/Library/Application Support/Code/User/mcp.json"},
		{VSCode, "windows", `C:\AppData/Code\User\mcp.json`},
	} {
		got, err := DefaultPath(c.client, Env{GOOS: c.goos, Home: "/h", AppData: `C:\AppData`, Cwd: "/w", Exists: none})
		if err != nil || got != c.want {
			t.Errorf("%s on %s: %q, %v; want %q", c.client, c.goos, got, err, c.want)
		}
	}
	// A project file in the working folder wins.
	exists := func(p string) bool {
		return p == "/w/.mcp.json" || p == "/w/.vscode/mcp.json" || p == "/w/.cursor/mcp.json"
	}
	for client, want := range map[Client]string{ClaudeCode: "/w/.mcp.json", VSCode: "/w/.vscode/mcp.json", Cursor: "/w/.cursor/mcp.json"} {
		if got, _ := DefaultPath(client, Env{GOOS: "linux", Home: "/h", Cwd: "/w", Exists: exists}); got != want {
			t.Errorf("%s with a project file: %s", client, got)
		}
	}
}
