package profiles

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func write(t *testing.T, path, text string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDiscovery(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "proj", FileName), "[tools]\ndeny = [\"x\"]\n")
	deep := filepath.Join(root, "proj", "a", "b")
	os.MkdirAll(deep, 0o755)
	getenv := env(map[string]string{"HOME": "/home/u"})

	p, err := Load(Options{Cwd: deep, Getenv: getenv})
	if err != nil || p.Origin.File != filepath.Join(root, "proj", FileName) || p.Project != filepath.Join(root, "proj") {
		t.Fatalf("from a subfolder: %+v, %v", p, err)
	}
	p, err = Load(Options{Cwd: "/", Project: filepath.Join(root, "proj"), Getenv: getenv})
	if err != nil || p.Origin.File != filepath.Join(root, "proj", FileName) {
		t.Fatalf("with --project: %v %v", p.Origin, err)
	}
	p, err = Load(Options{Cwd: root, Getenv: getenv})
	if err != nil || p.Origin.File != "preset:default" || p.Project != root {
		t.Fatalf("nothing found: %v %v", p.Origin, err)
	}
	p, err = Load(Options{Cwd: root, Profile: "node", Getenv: getenv})
	if err != nil || p.Origin.File != "preset:node" {
		t.Fatalf("--profile node: %v %v", p.Origin, err)
	}
	if _, err := Load(Options{Cwd: root, Profile: "nosuch", Getenv: getenv}); err == nil || !strings.Contains(err.Error(), "presets: base, default, git, github, node, npm, pypi, python") {
		t.Fatalf("--profile nosuch: %v", err)
	}
	if _, err := Load(Options{Cwd: root, Profile: "missing.toml", Getenv: getenv}); err == nil {
		t.Fatal("a missing profile file loaded")
	}
}

func TestVariables(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.toml")
	write(t, path, `[filesystem]
read = ["${PROJECT}/a", "${HOME}/b", "${CACHE}", "${CONFIG}", "${STATE}", "${TMP}"]
`)
	p, err := Load(Options{Profile: path, Getenv: env(map[string]string{"HOME": "/h", "XDG_CACHE_HOME": "/xc", "TMPDIR": "/t"})})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range p.Read {
		got = append(got, e.Value)
	}
	want := []string{dir + "/a", "/h/b", "/xc/mcpcell/cells/" + p.Cell, "/h/.config/mcpcell", "/h/.local/state/mcpcell", "/t"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("expanded %v, want %v", got, want)
	}
	if p.AuditPath != "/h/.local/state/mcpcell/audit/"+p.Name+".jsonl" {
		t.Errorf("audit path %s", p.AuditPath)
	}

	write(t, path, "[env]\nset = { A = \"${NOPE}\" }\n")
	_, err = Load(Options{Profile: path, Getenv: env(nil)})
	var pe *Error
	if !errors.As(err, &pe) || pe.At.Line != 2 || !strings.Contains(pe.Msg, "unknown variable ${NOPE}") {
		t.Errorf("unknown variable: %v", err)
	}
	write(t, path, "[server]\ncommand = [\"x\", \"${PROJECT\"]\n")
	if _, err := Load(Options{Profile: path, Getenv: env(nil)}); err == nil || !strings.Contains(err.Error(), "unterminated") {
		t.Errorf("unterminated variable: %v", err)
	}
}

func TestIncludes(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.toml"), "include = [\"node\", \"sub/b.toml\"]\n[tools]\ndeny = [\"a\"]\n[client]\nroots = false\n")
	write(t, filepath.Join(dir, "sub", "b.toml"), "include = [\"base\"]\n[tools]\ndeny = [\"b\"]\n[client]\nroots = true\nsampling = true\n")
	p, err := Load(Options{Profile: filepath.Join(dir, "a.toml"), Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, s := range p.Includes {
		files = append(files, filepath.Base(s.File))
	}
	// base once, though node and b.toml both include it.
	if got := strings.Join(files, ","); got != "preset:base,preset:node,b.toml,a.toml" {
		t.Errorf("read order %s", got)
	}
	if len(p.Tools.Deny) != 2 || p.Roots || !p.Sampling {
		t.Errorf("merge: deny %v roots %v sampling %v; want both denies, roots from a.toml, sampling from b.toml", p.Tools.Deny, p.Roots, p.Sampling)
	}
}

func TestValidationErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ text, want string }{
		{"[network]\nports = [0]\n", ":2: network.ports: port 0 is outside"},
		{"[filesystem]\nread = [\"relative\"]\n", `:2: filesystem.read: "relative" is not an absolute path (use ${PROJECT}/…)`},
		// ~ is no shell's here: ${HOME} is meant, not ${PROJECT}
		{"[filesystem]\nread = [\"~/proj\"]\n", `:2: filesystem.read: "~/proj" is not an absolute path: a profile does not expand ~ (use "${HOME}/proj")`},
		{"[filesystem]\nexec = [\"~\"]\n", `:2: filesystem.exec: "~" is not an absolute path: a profile does not expand ~ (use "${HOME}")`},
		{"[filesystem]\nwrite = [\"~bob/x\"]\n", `:2: filesystem.write: "~bob/x" is not an absolute path: a profile does not expand ~user (give the folder's absolute path)`},
		// nor is $HOME: ${HOME} is meant, with braces
		{"[filesystem]\nread = [\"$HOME/x\"]\n", `:2: filesystem.read: "$HOME/x" is not an absolute path: a profile does not expand $HOME (use "${HOME}/x", with braces)`},
		{"[filesystem]\nwrite = [\"$PROJECT\"]\n", `:2: filesystem.write: "$PROJECT" is not an absolute path: a profile does not expand $PROJECT (use "${PROJECT}", with braces)`},
		{"[filesystem]\nread = [\"$XDG_DATA_HOME/x\"]\n", `:2: filesystem.read: "$XDG_DATA_HOME/x" is not an absolute path: a profile does not expand $XDG_DATA_HOME nor any environment variable (give the absolute path, or use one of ${CACHE}, ${CONFIG}, ${HOME}, ${PROJECT}, ${STATE}, ${TMP})`},
		{"[filesystem]\nread = [\"$HOMEx\"]\n", `:2: filesystem.read: "$HOMEx" is not an absolute path: a profile does not expand $HOMEx nor any environment variable`},
		// a control or bidi character in a granted path, as written (review F2)
		{"[filesystem]\nread = [\"/a\", \"${PROJECT}/\\r\\u001b[2K\\u001b[1A x\"]\n", `:2: filesystem.read: "${PROJECT}/\r\x1b[2K\x1b[1A x" holds the character U+000D: a granted path may not hold control or bidi characters (a terminal would show the path as other text)`},
		{"[filesystem]\nwrite = [\"/a\\u202egpj.exe\"]\n", `:2: filesystem.write: "/a\u202egpj.exe" holds the character U+202E: a granted path may not`},
		{"[filesystem]\noptional = [\"/a\\u0085b\"]\n", `:2: filesystem.optional: "/a\u0085b" holds the character U+0085`},
		// … and in [server] cwd and command (review C, A2): run names them
		// in its errors, where a newline would start a forged line
		{"[server]\ncwd = \"/nonexist\\nmcpcell: hint: FORGED\"\n", `:2: server.cwd: "/nonexist\nmcpcell: hint: FORGED" holds the character U+000A: the server's folder may not hold control or bidi characters`},
		{"[server]\ncommand = [\"/usr/bin/node\", \"x\\u001b[2K\"]\n", `:2: server.command: "x\x1b[2K" holds the character U+001B: a word of the server's command may not hold`},
		{"[audit]\npath = \"~/a.jsonl\"\n", `:2: audit.path: "~/a.jsonl" is not an absolute path: a profile does not expand ~ (use "${HOME}/a.jsonl")`},
		{"[tools.args.t]\na = { within = [\"~/w\"] }\n", `within: "~/w" is not an absolute path: a profile does not expand ~ (use "${HOME}/w")`},
		{"[env]\npass = [\"A-B\"]\n", `:2: env.pass: "A-B" is not an environment variable name`},
		{"[secrets]\nX = 1\n", `:2: secrets.X: a keyring reference is`},
		{"[secrets]\nX = { service = \"s\" }\n", `:2: secrets.X: a keyring reference is`},
		{"[tools.args.t]\na = {}\n", `:2: tools.args.t.a: a constraint needs`},
		{"[tools.args.t]\na = { withn = [\"/x\"] }\n", `:2: unknown key "withn"`},
		{"[tools.args.t]\na = { within = [\"x\"] }\n", `within: "x" is not an absolute path`},
		{"[tools.args.t]\na = { enum = [[1]] }\n", `enum: [1] is not a string`},
		{"[tools.args.t]\na = { enum = [nan] }\n", `:2: tools.args.t.a: enum: NaN can never match`},
		{"[tools.args.t]\na = { enum = [-inf] }\n", `enum: -Inf can never match`},
		{"[tools.args.t]\na = { enum = [1234567890123456789.0] }\n", `enum: 1.2345678901234568e+18 is a float beyond 2^53`},
		{"[tools.args.t]\na = { enum = [1e20] }\n", `enum: 1e+20 is a float beyond 2^53`},
		{"[limits]\nmax_frame = 10\n", `:2: limits.max_frame: 10 is outside`},
		{"[sandbox]\nmax_processes = 0\n", `:2: sandbox.max_processes: 0 is outside 16 to 4194304`},
		{"[sandbox]\nmax_processes = 15\n", `:2: sandbox.max_processes: 15 is outside 16 to 4194304`},
		{"[sandbox]\nmax_processes = -1\n", `:2: sandbox.max_processes: -1 is outside`},
		{"[sandbox]\nmax_processes = 4194305\n", `:2: sandbox.max_processes: 4194305 is outside`},
		{"[sandbox]\nmax_processes = \"many\"\n", `:2: sandbox.max_processes: wrong type: want a whole number, got a string`},
		{"[client]\nsampling = \"yes\"\n", `:2: client.sampling: wrong type: want true or false, got a string`},
		{"[resources]\nallow = [\"[\"]\n", `:2: resources.allow: glob "[": unclosed [`},
		{"[prompts]\ndeny = [\"\"]\n", `prompts.deny: empty glob`},
		{"[tools]\nallow = [\"a\"\n", `:2:`},
	} {
		path := filepath.Join(dir, "p.toml")
		write(t, path, c.text)
		_, err := Load(Options{Profile: path, Getenv: env(nil)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.text, err, c.want)
		}
	}
}

func TestGlobs(t *testing.T) {
	for _, c := range []struct {
		glob, name string
		uri, want  bool
	}{
		{"read_*", "read_file", false, true},
		{"read_*", "write_file", false, false},
		{"*", "any/thing", false, true},
		{"?et", "get", false, true},
		{"[rw]*", "write", false, true},
		{"[!rw]*", "write", false, false},
		{`a\*`, "a*", false, true},
		{`a\*`, "ab", false, false},
		{"file:///p/*", "file:///p/a", true, true},
		{"file:///p/*", "file:///p/a/b", true, false},
		{"file:///p/**", "file:///p/a/b", true, true},
		{"file:///p/**", "file:///q/a", true, false},
		{"echo", "Echo", false, false},
		// Characters, not bytes: a byte of é is not a character of the glob.
		{"café", "café", false, true},
		{`caf\é`, "café", false, true},
		{"caf?", "café", false, true},
		{"file:///pé/*", "file:///pé/x", true, true},
	} {
		re, err := compileGlob(c.glob, c.uri)
		if err != nil {
			t.Fatalf("%s: %v", c.glob, err)
		}
		if got := re.MatchString(c.name); got != c.want {
			t.Errorf("glob %q on %q = %v, want %v", c.glob, c.name, got, c.want)
		}
	}
}

func TestOutside(t *testing.T) {
	roots := []string{"/proj"}
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{"/proj", true}, {"/proj/a/../b", true}, {"/proj//x", true}, {"/proj/file:/x", true},
		{"/proj/../etc", false}, {"/projx", false}, {"/etc/passwd", false},
		{"~/x", false}, {"", false}, {"/proj/\x00", false},
		// Relative paths: servers resolve them against folders of their
		// own, not the working folder (server-filesystem: each allowed
		// folder in turn).
		{"a/b", false}, {"../x", false}, {".", false}, {" /etc/passwd", false}, {`"/etc/passwd"`, false},
		{`C:\proj\x`, false}, {"C:/proj/x", false}, {`\\host\proj`, false},
		// URIs, file: among them, in every spelling: a URI to some
		// servers, a relative path to others (server-filesystem).
		{"file:///proj/x", false}, {"file://localhost/proj/x", false}, {"FILE:///proj/x", false}, {"file:/proj/x", false},
		{"file:proj/x", false}, {"file:///proj/%2e%2e/etc/passwd", false}, {"file://evil/proj/x", false},
		{"http://localhost/proj/x", false}, {"x-y.z+w:/proj/x", false},
	} {
		if got := outside(c.path, roots, "/proj") == ""; got != c.ok {
			t.Errorf("outside(%q) allows=%v, want %v", c.path, got, c.ok)
		}
	}
}

func testPolicy(t testing.TB, text string) *Policy {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.toml")
	os.WriteFile(path, []byte(text), 0o644)
	p, err := Load(Options{Profile: path, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

func TestDenyWins(t *testing.T) {
	pol := testPolicy(t, "[tools]\nallow = [\"read_*\", \"list\"]\ndeny = [\"read_secret*\"]\n")
	for name, want := range map[string]bool{"read_file": true, "list": true, "read_secrets": false, "write": false} {
		if got, rule := pol.tools.decide(name); got != want {
			t.Errorf("%s: %v (%s), want %v", name, got, rule, want)
		}
	}
}

// FuzzHiddenTool is the attacker's side of "a hidden tool cannot be
// called by any encoding trick": whatever tools/call frame the policy
// forwards, neither an exact-case decoder (JavaScript) nor Go's
// case-insensitive, last-wins encoding/json may read a hidden name in it.
func FuzzHiddenTool(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","Name":"secret"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"secret","name":"echo"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"s\u0065cret"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"NAME":"secret","name":"echo"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","nam\u0065":"secret"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","ſecret":1}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","Params":{"name":"secret"},"params":{"name":"echo"}}`,
	} {
		f.Add([]byte(s))
	}
	pol := testPolicy(f, "[tools]\ndeny = [\"secret*\", \"SECRET*\"]\n")
	hidden := func(name string) bool { ok, _ := pol.tools.decide(name); return !ok }
	f.Fuzz(func(t *testing.T, b []byte) {
		if jsontext.Validate(b) != nil || jsontext.TypeOf(b) != "object" {
			return
		}
		m, err := jsonrpc.Parse(b)
		if err != nil || m.Kind != jsonrpc.Request {
			return
		}
		v := pol.Message(jsonrpc.Up, m)
		if v.Action != jsonrpc.Forward {
			return
		}
		frame := v.Frame
		if frame == nil {
			frame = m.Raw
		}
		var lenient struct {
			Method string
			Params struct{ Name string }
		}
		if json.Unmarshal(frame, &lenient) == nil && strings.EqualFold(lenient.Method, "tools/call") && hidden(lenient.Params.Name) {
			t.Fatalf("forwarded %s: Go's encoding/json reads the hidden tool %q", frame, lenient.Params.Name)
		}
		var exact map[string]any
		if json.Unmarshal(frame, &exact) == nil && exact["method"] == "tools/call" {
			params, _ := exact["params"].(map[string]any)
			if name, _ := params["name"].(string); hidden(name) {
				t.Fatalf("forwarded %s: an exact decoder reads the hidden tool %q", frame, name)
			}
		}
	})
}

// FuzzPolicyReply: replies the server sends never crash the policy, and a
// filtered tools/list never shows a hidden tool.
func FuzzPolicyReply(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"secret"}],"nextCursor":"x"}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","name":"secret"}]}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":{}}}`))
	pol := testPolicy(f, "[tools]\ndeny = [\"secret*\"]\n")
	call := listCall(pol)
	f.Fuzz(func(t *testing.T, b []byte) {
		if jsontext.Validate(b) != nil || jsontext.TypeOf(b) != "object" {
			return
		}
		m, err := jsonrpc.Parse(b)
		if err != nil || m.Kind != jsonrpc.Response {
			return
		}
		v := pol.Reply(jsonrpc.Down, call, m)
		if v.Action != jsonrpc.Forward || m.Error != nil {
			return
		}
		frame := v.Frame
		if frame == nil {
			frame = m.Raw
		}
		if err := jsontext.Validate(frame); err != nil {
			t.Fatalf("the filtered frame is not strict JSON: %v: %s", err, frame)
		}
		var res struct {
			Result struct {
				Tools []struct{ Name string }
			}
		}
		json.Unmarshal(frame, &res)
		for _, tl := range res.Result.Tools {
			if strings.HasPrefix(tl.Name, "secret") {
				t.Fatalf("filtered list shows %q: %s", tl.Name, frame)
			}
		}
	})
}

// [sandbox] max_processes: the default when absent, the value and its
// line when set, the including file's over an included one's.
func TestMaxProcesses(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text, inc string
		want      int
		line      int
	}{
		{"", "", DefaultMaxProcesses, 0},
		{"[sandbox]\nmax_processes = 64\n", "", 64, 2},
		{"include = [\"inc.toml\"]\n[sandbox]\nmax_processes = 32\n", "[sandbox]\nmax_processes = 1000\n", 32, 3},
		{"include = [\"inc.toml\"]\n", "[sandbox]\nmax_processes = 1000\n", 1000, 2},
	} {
		write(t, filepath.Join(dir, "inc.toml"), c.inc)
		path := filepath.Join(dir, "p.toml")
		write(t, path, c.text)
		p, err := Load(Options{Profile: path, Getenv: env(nil)})
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if p.MaxProcesses != c.want || p.MaxProcessesFrom.Line != c.line {
			t.Errorf("%q including %q: max_processes %d from %v, want %d from line %d", c.text, c.inc, p.MaxProcesses, p.MaxProcessesFrom, c.want, c.line)
		}
	}
}
