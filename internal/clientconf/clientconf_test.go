package clientconf

import (
	"fmt"
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
	f, err := Parse(VSCode, "/p/.vscode/mcp.json", []byte(text), nil)
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

// A project configuration in the user's home folder (Cursor's own
// ~/.cursor/mcp.json, a ~/.vscode/mcp.json or ~/.mcp.json, Claude Code's
// projects["~"]) makes no project of the home folder: its entries are
// user-wide, and wrap puts their profiles in ${CONFIG}/wrapped, saying
// why (but for Cursor's, which is user-wide by its place). Control: the
// same files in a project folder belong to it.
func TestHomeIsNoProject(t *testing.T) {
	wide := func(dir string) string {
		if dir == "/h" {
			return "your home folder"
		}
		return ""
	}
	const servers = `{"mcpServers": {"s": {"command": "node", "args": ["x.js"]}}, "servers": {"s": {"command": "node"}}, "projects": {"/h": {"mcpServers": {"p": {"command": "node"}}}, "/h/proj": {"mcpServers": {"q": {"command": "node"}}}}}`
	for _, c := range []struct {
		client        Client
		path          string
		project, note string
		profile       string
	}{
		{Cursor, "/h/.cursor/mcp.json", "", "", "/c/wrapped/cursor/s/.mcpcell.toml"},
		{Cursor, "/h/proj/.cursor/mcp.json", "/h/proj", "", "/h/proj/.mcpcell.s.toml"},
		{VSCode, "/h/.vscode/mcp.json", "", "/h, the folder of .vscode/mcp.json, is your home folder, not a project", "/c/wrapped/vscode/s/.mcpcell.toml"},
		{VSCode, "/h/proj/.vscode/mcp.json", "/h/proj", "", "/h/proj/.mcpcell.s.toml"},
		{ClaudeCode, "/h/.mcp.json", "", "/h, the folder of .mcp.json, is your home folder, not a project", "/c/wrapped/claude-code/s/.mcpcell.toml"},
		{ClaudeCode, "/h/proj/.mcp.json", "/h/proj", "", "/h/proj/.mcpcell.s.toml"},
	} {
		f, err := Parse(c.client, c.path, []byte(servers), wide)
		if err != nil || len(f.Entries) == 0 {
			t.Fatalf("Parse(%s): %v", c.path, err)
		}
		e := f.Entries[0]
		if e.Project != c.project || e.NotProject != c.note {
			t.Errorf("%s: project %q (%q), want %q (%q)", c.path, e.Project, e.NotProject, c.project, c.note)
		}
		s, err := PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", ConfigDir: "/c", Only: []string{e.Name}, Exists: func(string) bool { return false }, IsDir: func(string) bool { return false }})
		if err != nil || len(s) != 1 || s[0].Profile != c.profile {
			t.Fatalf("%s: PlanWrap: %v, %+v, want the profile %s", c.path, err, s, c.profile)
		}
		if note := c.note + ": wrap takes its server as a user-wide one"; c.note != "" && (len(s[0].Notes) == 0 || !strings.HasPrefix(s[0].Notes[0], note)) {
			t.Errorf("%s: notes %q, want %q", c.path, s[0].Notes, note)
		}
	}
	// Claude Code's ~/.claude.json: projects["/h"] is user-wide, and its
	// profile does not take the user-wide entry's place.
	f, err := Parse(ClaudeCode, "/h/.claude.json", []byte(servers), wide)
	if err != nil {
		t.Fatal(err)
	}
	s, err := PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", ConfigDir: "/c", Exists: func(string) bool { return false }, IsDir: func(string) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, x := range s {
		got[x.Entry.Name] = x.Entry.Project + " " + x.Profile
	}
	want := map[string]string{"s": " /c/wrapped/claude-code/s/.mcpcell.toml", "p": " /c/wrapped/claude-code/p/.mcpcell.toml", "q": "/h/proj /h/proj/.mcpcell.q.toml"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("~/.claude.json: %v, want %v", got, want)
	}
}
