package clientconf

import (
	"path/filepath"
	"strings"
	"testing"
)

// scriptIndex finds the server's code on its command line: the script an
// interpreter runs, past its flags (and their values), 0 for a program
// that is its own code, -1 for an interpreter given no script.
func TestScriptIndex(t *testing.T) {
	for _, c := range []struct {
		line string
		want int
	}{
		{"node /s/index.js /data", 1},
		{"/usr/bin/node --require /s/pre.js --max-old-space-size=512 /s/index.js --config /c.yml", 4},
		{"node -e console.log(1) /data", -1},
		{"python3 -u /s/server.py /data", 2},
		{"python3.12 -X utf8 /s/server.py", 3},
		{"python -m mcp_server /data", -1},
		{"deno run --allow-read /s/main.ts /data", 3},
		{"bun run /s/index.ts", 2},
		{"bun /s/index.ts", 1},
		{"uv run --with mcp /s/server.py", 4},
		{"node -- /s/index.js", 2},
		{"/opt/tool/bin/server /data", 0},
		{"npx -y @scope/server /data", 0},
		{"/usr/bin/env NODE_ENV=production node /s/index.js", 3},
		{"/usr/bin/env /opt/tool/bin/server /data", -1},
		// Review C, A1: the values of the flags it knows are not the
		// script; after a flag it does not know, it cannot tell.
		{"node --require /p/evil.js /h/.config/gh/hosts.yml", 3},
		{"node -r /p/evil.js --import /p/x.mjs --no-warnings /s/index.js", 6},
		{"node --require=/p/evil.js /s/index.js", 2},
		{"node -p 1 /h/.aws/credentials", -1},
		{"node --unknown /h/.aws/credentials /s/index.js", -1},
		{"python3 -Wignore -uB /s/server.py", 3},
		{"python3 -W ignore /s/server.py", 3},
		{"python3 -c pass /s/server.py", -1},
		{"python3 --unknown /h/.netrc /s/server.py", -1},
	} {
		if got := scriptIndex(strings.Fields(c.line)); got != c.want {
			t.Errorf("scriptIndex(%s) = %d, want %d", c.line, got, c.want)
		}
	}
}

// Issue 14 review, F4 and F5: what wrap grants for each argument, and what
// its plan says: a folder gets write unless WideWrite refuses it (a note
// says why and what to do), the server's script its code root (read), any
// other file read of itself only, unless Sensitive refuses it.
func TestWrapArgumentGrants(t *testing.T) {
	dirs := map[string]bool{"/h/.ssh": true, "/h": true, "/h/work/data": true, "/etc": true}
	files := map[string]bool{"/s/index.js": true, "/h/.config/gh/hosts.yml": true, "/h/work/other/db.sqlite": true}
	text := `{"mcpServers": {"s": {"command": "/usr/bin/node", "args": ["/s/index.js", "/h/.ssh", "/h", "/etc", "/h/work/data", "--config", "/h/.config/gh/hosts.yml", "--db", "/h/work/other/db.sqlite"]}}}`
	f := parse(t, Cursor, "/h/.cursor/mcp.json", text)
	o := WrapOptions{Mcpcell: "/bin/mcpcell", ConfigDir: "/c",
		Exists:   func(p string) bool { return dirs[p] || files[p] },
		IsDir:    func(p string) bool { return dirs[p] },
		CodeRoot: func(file string) (string, string) { return filepath.Dir(file), "" },
		WideWrite: func(dir string) string {
			return map[string]string{"/h/.ssh": "in a hidden folder of your home folder (~/.ssh)", "/h": "your home folder", "/etc": "a system folder (/etc)"}[dir]
		},
		Sensitive: func(file string) string {
			if strings.HasPrefix(file, "/h/.") {
				return "a file in a hidden folder of your home folder (~/.config)"
			}
			return ""
		},
	}
	servers, err := PlanWrap(f, o)
	if err != nil {
		t.Fatal(err)
	}
	prof := servers[0].ProfileText
	for _, want := range []string{
		`read = ["/usr/bin/node", "/s", "/h/work/other/db.sqlite"]` + "\n",
		`write = ["/h/work/data"]` + "\n",
	} {
		if !strings.Contains(prof, want) {
			t.Errorf("the profile lacks %s:\n%s", want, prof)
		}
	}
	notes := strings.Join(servers[0].Notes, "\n")
	for _, want := range []string{
		"args[1] /h/.ssh: a folder, not granted, as it is in a hidden folder of your home folder (~/.ssh): the server can neither read nor write it in the cell; if the server must have it, grant it in [filesystem] write of the profile yourself, knowingly, then mcpcell trust",
		"args[2] /h: a folder, not granted, as it is your home folder: the server can neither read nor write it in the cell; it holds mcpcell's own folders, whose write grant run refuses: grant the folders below it that the server should have in [filesystem] write of the profile, then mcpcell trust",
		"args[3] /etc: a folder, not granted, as it is a system folder (/etc)",
		"args[4] /h/work/data: a folder: the profile grants the server write on it (to read, create, change and delete every file in it)",
		"args[6] /h/.config/gh/hosts.yml: not granted, as it is a file in a hidden folder of your home folder (~/.config); if the server must read it, add it to [filesystem] read of the profile yourself, knowingly (it may be a credential), then mcpcell trust",
		"args[8] /h/work/other/db.sqlite: a file: the profile grants the server read of this file only",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("the plan lacks the note %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "packages") {
		t.Errorf("a note on a data or credential file talks about packages:\n%s", notes)
	}
	// Without WideWrite and Sensitive, wrap cannot tell: it grants neither.
	o.WideWrite, o.Sensitive = nil, nil
	servers, err = PlanWrap(f, o)
	if err != nil || strings.Contains(servers[0].ProfileText, "write =") || strings.Contains(servers[0].ProfileText, `db.sqlite"`) {
		t.Errorf("without the checks: %v\n%s", err, servers[0].ProfileText)
	}
}

// Issue 14 review, F6: an entry runs through mcpcell when run would take
// its args so: --profile P or --profile=P, the command after "--" or after
// the last flag; wrap leaves it alone, and unwrap gives back its command.
func TestWrappedForms(t *testing.T) {
	for _, c := range []struct {
		args             string
		profile, project string
		command          string // the command unwrap gives back; "" when not wrapped
	}{
		{"run --profile /p/x.toml -- node x.js", "/p/x.toml", "", "node"},
		{"run --profile=/p/x.toml -- node x.js", "/p/x.toml", "", "node"},
		{"run --profile /p/x.toml node x.js", "/p/x.toml", "", "node"},
		{"run --profile=/p/x.toml --project=/w node x.js", "/p/x.toml", "/w", "node"},
		{"run -- node x.js", "", "", "node"},
		{"run node --profile x.js", "", "", "node"},
		{"run --profile /p/x.toml", "", "", ""},
		{"run --bogus node", "", "", ""},
		{"check --profile /p/x.toml", "", "", ""},
	} {
		e := &Entry{Command: "/usr/local/bin/mcpcell", Args: strings.Fields(c.args)}
		profile, project, orig, ok := wrapped(e, "")
		if ok != (c.command != "") || ok && (profile != c.profile || project != c.project || e.Args[orig] != c.command) {
			t.Errorf("wrapped(mcpcell %s) = %q, %q, %d, %v; want %q, %q, %q", c.args, profile, project, orig, ok, c.profile, c.project, c.command)
		}
	}
	// wrap leaves each form alone: it never wraps mcpcell in mcpcell.
	text := `{"mcpServers": {"eq": {"command": "/bin/mcpcell", "args": ["run", "--profile=/p/x.toml", "--", "node", "x.js"]}, "nodash": {"command": "/bin/mcpcell", "args": ["run", "--profile", "/p/x.toml", "node", "x.js"]}, "nocmd": {"command": "/bin/mcpcell", "args": ["run", "--profile", "/p/x.toml"]}, "plain": {"command": "node", "args": ["x.js"]}}}`
	f := parse(t, ClaudeDesktop, "/h/.config/Claude/claude_desktop_config.json", text)
	servers, err := PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", ConfigDir: "/c", Exists: none, IsDir: none})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		want := map[string]string{"eq": "already wrapped", "nodash": "already wrapped", "nocmd": "left alone: it runs mcpcell run already", "plain": "wrap"}[s.Entry.Name]
		if !strings.HasPrefix(s.Action, want) {
			t.Errorf("%s: %s, want %s", s.Entry.Name, s.Action, want)
		}
	}
	servers, err = PlanUnwrap(f, UnwrapOptions{Mcpcell: "/bin/mcpcell", Profile: func(string) ([]KV, map[string]string, error) { return nil, nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers[:2] {
		if s.Action != "unwrap" || s.Profile != "/p/x.toml" || string(s.Members[0].Value) != `"node"` || string(s.Members[1].Value) != `["x.js"]` {
			t.Errorf("unwrap %s: %s %s %s", s.Entry.Name, s.Action, s.Profile, s.Members)
		}
	}
}

// Issue 14 review, F8: user-wide entries of the client's primary file keep
// ${CONFIG}/wrapped/CLIENT/NAME; another user-wide file of the client
// (~/.mcp.json beside ~/.claude.json) gets a folder of its own, so that
// two servers named fs never share a profile.
func TestUserWideProfilePerFile(t *testing.T) {
	home := func(string) string { return "your home folder" }
	o := WrapOptions{Mcpcell: "/bin/mcpcell", ConfigDir: "/c", Primary: "/h/.claude.json", Exists: none, IsDir: none}
	a, err := PlanWrap(parse2(t, ClaudeCode, "/h/.claude.json", `{"mcpServers": {"fs": {"command": "node", "args": ["a.js"]}}}`, home), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := PlanWrap(parse2(t, ClaudeCode, "/h/.mcp.json", `{"mcpServers": {"fs": {"command": "python3", "args": ["b.py"]}}}`, home), o)
	if err != nil {
		t.Fatal(err)
	}
	if a[0].Profile != "/c/wrapped/claude-code/fs/.mcpcell.toml" {
		t.Errorf("the primary file's profile: %s", a[0].Profile)
	}
	if b[0].Profile == a[0].Profile || !strings.HasPrefix(b[0].Profile, "/c/wrapped/claude-code-") || !strings.HasSuffix(b[0].Profile, "/fs/.mcpcell.toml") {
		t.Errorf("~/.mcp.json's profile: %s (~/.claude.json's: %s)", b[0].Profile, a[0].Profile)
	}
}

func parse2(t *testing.T, c Client, path, text string, wide func(string) string) *File {
	t.Helper()
	f, err := Parse(c, path, []byte(text), wide)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Issue 14 review, F9: Claude Code's projects["relative/dir"] and
// projects["/gone"] are left alone with a note, never given a relative
// profile path or a folder wrap would make.
func TestWrapProjectKeys(t *testing.T) {
	text := `{"projects": {"relative/dir": {"mcpServers": {"rel": {"command": "node"}}}, "/gone": {"mcpServers": {"gone": {"command": "node"}}}, "/p": {"mcpServers": {"here": {"command": "node"}}}}}`
	f := parse(t, ClaudeCode, "/h/.claude.json", text)
	servers, err := PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", ConfigDir: "/c", Exists: none, IsDir: none, Folder: func(d string) bool { return d == "/p" }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"rel":  `left alone: its project "relative/dir" (projects["relative/dir"].mcpServers) is not an absolute path, so wrap cannot tell where its profile goes`,
		"gone": `left alone: its project folder /gone (projects["/gone"].mcpServers) does not exist`,
		"here": "wrap",
	}
	for _, s := range servers {
		if s.Action != want[s.Entry.Name] || s.Action != "wrap" && s.Profile != "" {
			t.Errorf("%s: %q %s, want %q", s.Entry.Name, s.Action, s.Profile, want[s.Entry.Name])
		}
	}
}
