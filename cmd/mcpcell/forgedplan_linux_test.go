package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// raw says where s holds a character printable escapes (ESC, CR, C1,
// U+202E…) other than a newline, or -1.
func raw(s string) int {
	return strings.IndexFunc(s, func(r rune) bool { return r != '\n' && invisible(r) })
}

// Issue 14 review C, A2: a server's name in a client configuration that
// a cloned repository writes (.cursor/mcp.json) was printed raw in wrap's
// plan: its escapes erased the note that the profile grants the server
// write on ~/Documents and printed a benign one in its place. Every
// string of the configuration (names, projects["DIR"] folders, env
// names) is shown escaped now: the plan holds no raw control or bidi
// character, and on a terminal the write note is still there. Control:
// the same plan with the name as written shows, on the same terminal,
// the forged note and no write note.
func TestWrapPlanForgedName(t *testing.T) {
	systemTool(t, "/usr/bin/node")
	root, _ := filepath.EvalSymlinks(t.TempDir())
	home := filepath.Join(root, "home")
	proj := filepath.Join(home, "proj")
	writeConfig(t, filepath.Join(proj, "server.js"), "x\n")
	os.MkdirAll(filepath.Join(home, "Documents"), 0o700)
	forged := "\x1b[1A\x1b[2K\x1b[1A\x1b[2K\r    profile: " + proj + "/.mcpcell.notes.toml\n    note: args[1] " + proj + "/server.js: a file: the profile grants the server read of this file only\x1b[8m"
	bidi := "b\u202etxt.\u009b2Kexe"
	writeConfig(t, filepath.Join(proj, ".cursor/mcp.json"), `{"mcpServers": {
  "notes": {"command": "/usr/bin/node", "args": [`+jsonString(proj+"/server.js")+`, `+jsonString(home+"/Documents")+`]},
  `+jsonString(forged)+`: {"command": "/usr/bin/node", "args": ["x"], "env": {"A-B": "1"}},
  `+jsonString(bidi)+`: {"command": "/usr/bin/node", "args": ["x"], "env": {`+jsonString("K\u202eY")+`: "1"}}}}`)
	stdout, stderr, code := mcpcellIn(t, proj, home, []string{anyBinaryEnv + "=1"}, "wrap", "--client", "cursor", "--dry-run")
	if code != 0 {
		t.Fatalf("wrap --dry-run: rc %d\n%s%s", code, stdout, stderr)
	}
	if i := raw(stdout + stderr); i >= 0 {
		t.Errorf("wrap's plan holds a raw control or bidi character at %d:\n%q", i, stdout+stderr)
	}
	note := "    note: args[1] " + home + "/Documents: a folder: the profile grants the server write on it"
	shown := terminal(stdout)
	if !strings.Contains(shown, note) || strings.Contains(shown, "\n    note: args[1] "+proj+"/server.js") {
		t.Errorf("on a terminal, the plan lacks the write note, or shows the forged one:\n%s", shown)
	}
	t.Run("control: the name as written", func(t *testing.T) {
		rawOut := strings.Replace(stdout, printable(forged), forged, 1)
		if rawOut == stdout {
			t.Fatalf("the plan does not show the name escaped:\n%s", stdout)
		}
		shown := terminal(rawOut)
		if strings.Contains(shown, note) || !strings.Contains(shown, "\n    note: args[1] "+proj+"/server.js: a file") {
			t.Errorf("the forged name did not erase the write note:\n%s", shown)
		}
	})

	// Claude Code's projects["DIR"]: DIR is a folder name, in the left
	// alone note and in the profile's path.
	dir := filepath.Join(home, "p\x1b[2Kq")
	os.MkdirAll(dir, 0o700)
	missing := filepath.Join(home, "gone\r\x1b[2Kmcpcell: FORGED")
	writeConfig(t, filepath.Join(home, ".claude.json"), `{"projects": {
  `+jsonString(dir)+`: {"mcpServers": {"s": {"command": "/usr/bin/node", "args": ["x"]}}},
  `+jsonString(missing)+`: {"mcpServers": {"t": {"command": "/usr/bin/node", "args": ["x"]}}}}}`)
	stdout, stderr, code = mcpcellIn(t, home, home, []string{anyBinaryEnv + "=1"}, "wrap", "--client", "claude-code", "--dry-run")
	if code != 0 {
		t.Fatalf("wrap --dry-run: rc %d\n%s%s", code, stdout, stderr)
	}
	if i := raw(stdout + stderr); i >= 0 {
		t.Errorf("wrap's plan holds a raw control character at %d:\n%q", i, stdout+stderr)
	}
	for _, want := range []string{"profile: " + printable(dir) + "/.mcpcell.s.toml", "left alone: its project folder " + strconv.Quote(missing)} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, stdout)
		}
	}
}

// Issue 14 review C, A2: errorf and hintf escape a newline inside a
// value they format ([server] cwd, a project folder's name): it does not
// start a line of its own, such as a forged "mcpcell: hint: …". The
// format's own newlines stay, and fail gives each joined error, joins
// within joins too, a line of its own. Control: the same value shown
// line by line (printableLines, what errorf used) starts the forged line.
func TestMessagesEscapeValues(t *testing.T) {
	var b bytes.Buffer
	c := &cli{stderr: &b}
	forged := "/nonexist\nmcpcell: hint: FORGED \x1b[2K"
	c.errorf("the server's folder %s: %v", forged, errors.New(forged))
	c.hintf("create %s", forged)
	c.errorf("two\nlines %s", "x")
	c.fail(errors.Join(errors.Join(errors.New("a"), errors.New("b")), errors.New("c")), "")
	want := `mcpcell: error: the server's folder /nonexist\nmcpcell: hint: FORGED \x1b[2K: /nonexist\nmcpcell: hint: FORGED \x1b[2K
mcpcell: hint: create /nonexist\nmcpcell: hint: FORGED \x1b[2K
mcpcell: error: two
lines x
mcpcell: error: a
mcpcell: error: b
mcpcell: error: c
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if !strings.Contains("\n"+printableLines(forged), "\nmcpcell: hint: FORGED") {
		t.Errorf("control: printableLines(%q) starts no forged line", forged)
	}
}

// Issue 14 review C, A2: a trusted profile's [server] cwd with a newline
// made run print a forged "mcpcell: hint:" line. Such a cwd (and such a
// command word) is refused at its line, as a [filesystem] path is, and
// no line of run's output is forged; run's trust check is off, as for a
// profile trusted before the fix (trust now refuses it too). Control:
// the same profile with a plain cwd that does not exist: run names the
// cwd in its error (the value reaches the message).
func TestServerCwdControlCharacter(t *testing.T) {
	home := testHome(t)
	proj := t.TempDir()
	for _, c := range []struct{ name, cwd, want string }{
		{"newline", `/nonexist\nmcpcell: hint: FORGED`, `.mcpcell.toml:3: server.cwd: "/nonexist\nmcpcell: hint: FORGED" holds the character U+000A`},
		{"control: plain", `/nonexist`, `/nonexist`},
	} {
		t.Run(c.name, func(t *testing.T) {
			writeConfig(t, filepath.Join(proj, ".mcpcell.toml"), "include = [\"default\"]\n[server]\ncwd = \""+c.cwd+"\"\n")
			_, stderr, code := mcpcellIn(t, proj, home, []string{noTrustEnv + "=1"}, "run", "--", "/usr/bin/node", "x")
			if code == 0 || !strings.Contains(stderr, c.want) {
				t.Errorf("run: rc %d, want an error with %q:\n%s", code, c.want, stderr)
			}
			for _, l := range strings.Split(stderr, "\n") {
				if strings.HasPrefix(l, "mcpcell: hint: FORGED") {
					t.Errorf("run printed a forged line:\n%s", stderr)
				}
			}
		})
	}
}
