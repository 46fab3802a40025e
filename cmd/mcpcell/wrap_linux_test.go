package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/mcpcell/mcpcell/internal/clientconf"
	"github.com/mcpcell/mcpcell/keystore"
)

type wrapCase struct {
	client, fixture, place string
	wrapped                []string          // servers wrap changes
	secrets                map[string]string // env -> value that moves to the keyring
	passed                 []string          // env names that stay in the config
	kept                   []string          // text that must stay byte for byte
}

var wrapCases = []wrapCase{
	{"claude-desktop", "claude_desktop_config.json", "claude_desktop_config.json", []string{"github", "files"},
		map[string]string{"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_fixtureTOKEN0123456789abcdef"}, nil,
		[]string{`"globalShortcut": "Ctrl+Space",`, "\"remote\": {\n      \"url\": \"https://mcp.example.com/sse\"\n    }", `"preferences": {"theme": "dark"}`}},
	{"claude-code", "claude.json", "home/.claude.json", []string{"slack", "db"},
		map[string]string{"SLACK_BOT_TOKEN": "xoxb-fixture-1234567890", "PGPASSWORD": "hunter2-fixture-pw"}, []string{"DATABASE_URL"},
		[]string{`"numStartups": 42,`, `"allowedTools": [],`}},
	{"claude-code", "mcp.json", "proj/.mcp.json", []string{"sentry"}, nil, []string{"SENTRY_AUTH_TOKEN"}, nil},
	{"cursor", "cursor-mcp.json", "proj/.cursor/mcp.json", []string{"openai"},
		map[string]string{"OPENAI_API_KEY": "sk-fixture0123456789abcdefXYZ"}, nil, nil},
	{"vscode", "vscode-mcp.json", "proj/.vscode/mcp.json", []string{"github", "brave"},
		map[string]string{"BRAVE_API_KEY": "BSAfixture0123456789"}, []string{"GITHUB_PERSONAL_ACCESS_TOKEN"},
		[]string{"// VS Code workspace servers (JSON with comments)", `{"type": "promptString", "id": "gh-token", "description": "GitHub token", "password": true}`, "/* the GitHub server, token prompted by VS Code */", `"web": {"type": "http", "url": "https://example.com/mcp"}`}},
}

func TestWrapUnwrap(t *testing.T) {
	needKeyring(t)
	for _, c := range wrapCases {
		t.Run(c.client+"/"+c.fixture, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"proj", "data/server/dist", "home", "config"} {
				os.MkdirAll(filepath.Join(root, d), 0o755)
			}
			os.WriteFile(filepath.Join(root, "data/server/package.json"), []byte("{}"), 0o644)
			os.WriteFile(filepath.Join(root, "data/server/dist/index.js"), []byte(""), 0o644)
			raw, _ := os.ReadFile(filepath.Join("testdata/clients", c.fixture))
			orig := strings.NewReplacer("{DATA}", filepath.Join(root, "data"), "{PROJECT}", filepath.Join(root, "proj")).Replace(string(raw))
			path := filepath.Join(root, c.place)
			os.MkdirAll(filepath.Dir(path), 0o755)
			os.WriteFile(path, []byte(orig), 0o640)
			os.Chmod(path, 0o640)
			run := func(args ...string) (string, error) {
				cmd := mcpcellCmd(append(args, "--client", c.client, "--config", path)...)
				cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(root, "config"), anyBinaryEnv+"=1")
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			noValues := func(what, text string) {
				t.Helper()
				for env, v := range c.secrets {
					if strings.Contains(text, v) {
						t.Errorf("%s holds the value of %s:\n%s", what, env, text)
					}
				}
			}
			t.Cleanup(func() {
				for _, s := range []string{"github", "files", "slack", "db", "sentry", "openai", "brave"} {
					for env := range c.secrets {
						keystore.Remove(keystore.Keyring{}, strings.ToLower(c.client+"-"+s+"-"+env))
					}
				}
			})

			// --dry-run: the plan and the diff, values masked, nothing written.
			out, err := run("wrap", "--dry-run")
			if err != nil || !strings.Contains(out, "(dry run: nothing was changed)") || !strings.Contains(out, "+++ ") {
				t.Fatalf("dry run: %v\n%s", err, out)
			}
			noValues("the dry run's output", out)
			if now, _ := os.ReadFile(path); string(now) != orig {
				t.Fatalf("the dry run changed the file")
			}

			out, err = run("wrap", "--yes")
			if err != nil {
				t.Fatalf("wrap: %v\n%s", err, out)
			}
			noValues("wrap's output", out)
			text, _ := os.ReadFile(path)
			noValues("the wrapped config", string(text))
			for _, k := range c.kept {
				if !strings.Contains(string(text), k) {
					t.Errorf("wrap did not keep %q:\n%s", k, text)
				}
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640", st.Mode().Perm())
			}
			backups, _ := filepath.Glob(path + ".mcpcell-backup-*")
			if len(backups) != 1 {
				t.Fatalf("backups: %v", backups)
			}
			// The backup is the original with each moved credential as the
			// marker of its item, and nothing else changed; mode 0600.
			b, _ := os.ReadFile(backups[0])
			noValues("the backup", string(b))
			unmarked := string(b)
			for env, v := range c.secrets {
				found := false
				for _, s := range c.wrapped {
					item := strings.ToLower(c.client + "-" + s + "-" + env)
					m := `"` + clientconf.Marker(item) + `"`
					found = found || strings.Contains(unmarked, m)
					unmarked = strings.ReplaceAll(unmarked, m, `"`+v+`"`)
				}
				if !found {
					t.Errorf("the backup has no marker for %s:\n%s", env, b)
				}
			}
			if unmarked != orig {
				t.Errorf("the backup differs from the original beyond its markers:\n%s", b)
			}
			if st, _ := os.Stat(backups[0]); st.Mode().Perm() != 0o600 {
				t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
			}
			if !strings.Contains(out, "backup: "+backups[0]+" (mode 0600), with no secret") {
				t.Errorf("wrap did not name the backup and say it holds no secret:\n%s", out)
			}
			f, err := clientconf.Parse(clientconf.Client(c.client), path, text, nil)
			if err != nil {
				t.Fatalf("the wrapped file does not parse: %v\n%s", err, text)
			}
			origF, _ := clientconf.Parse(clientconf.Client(c.client), path, []byte(orig), nil)
			for i, e := range f.Entries {
				o := origF.Entries[i]
				if !slices.Contains(c.wrapped, e.Name) {
					continue
				}
				if filepath.Base(e.Command) != filepath.Base(os.Args[0]) || len(e.Args) < 5 || e.Args[0] != "run" || e.Args[1] != "--profile" || !filepath.IsAbs(e.Args[2]) || e.Args[3] != "--" || e.Args[4] != o.Command || !slices.Equal(e.Args[5:], o.Args) {
					t.Errorf("%s: command %s %v", e.Name, e.Command, e.Args)
					continue
				}
				prof, err := os.ReadFile(e.Args[2])
				if err != nil {
					t.Fatalf("%s: profile: %v", e.Name, err)
				}
				for _, kv := range o.Env {
					_, secret := c.secrets[kv.Key]
					passed := slices.Contains(c.passed, kv.Key)
					inConfig := slices.ContainsFunc(e.Env, func(x clientconf.KV) bool { return x.Key == kv.Key })
					switch {
					case secret && (inConfig || !strings.Contains(string(prof), kv.Key+" = ")):
						t.Errorf("%s: secret %s not moved to [secrets]:\n%s", e.Name, kv.Key, prof)
					case passed && (!inConfig || !strings.Contains(string(prof), `"`+kv.Key+`"`)):
						t.Errorf("%s: %s should stay in the config and be passed:\n%s", e.Name, kv.Key, prof)
					case !secret && !passed && (inConfig || !strings.Contains(string(prof), `"`+kv.Key+`" = `)):
						t.Errorf("%s: %s should move to [env.set]:\n%s", e.Name, kv.Key, prof)
					}
				}
				// The profile wrap wrote is a valid profile.
				if out, err := mcpcellCmd("check", "--profile", e.Args[2]).CombinedOutput(); err != nil {
					t.Errorf("%s: check of the written profile: %v\n%s", e.Name, err, out)
				}
			}
			for env, v := range c.secrets {
				found := false
				for _, s := range c.wrapped {
					got, err := keystore.Keyring{}.Get(keystore.Ref{Service: keystore.Service, User: strings.ToLower(c.client + "-" + s + "-" + env)})
					found = found || err == nil && got == v
				}
				if !found {
					t.Errorf("%s is not in the keyring", env)
				}
			}

			// Wrapping twice changes nothing.
			out, err = run("wrap", "--yes")
			if again, _ := os.ReadFile(path); err != nil || string(again) != string(text) || !strings.Contains(out, "nothing to change") {
				t.Errorf("second wrap: %v\n%s", err, out)
			}
			if b, _ := filepath.Glob(path + ".mcpcell-backup-*"); len(b) != 1 {
				t.Errorf("second wrap made a backup")
			}

			// unwrap restores command, args and env, but not the secrets.
			out, err = run("unwrap", "--yes")
			if err != nil {
				t.Fatalf("unwrap: %v\n%s", err, out)
			}
			un, _ := os.ReadFile(path)
			uf, _ := clientconf.Parse(clientconf.Client(c.client), path, un, nil)
			for i, e := range uf.Entries {
				o := origF.Entries[i]
				if e.Command != o.Command || !slices.Equal(e.Args, o.Args) {
					t.Errorf("unwrapped %s: %s %v, want %s %v", e.Name, e.Command, e.Args, o.Command, o.Args)
				}
				for _, kv := range o.Env {
					_, secret := c.secrets[kv.Key]
					has := slices.Contains(e.Env, kv)
					if has == secret {
						t.Errorf("unwrapped %s: env %s present=%v (secret=%v)", e.Name, kv.Key, has, secret)
					}
				}
			}
			if len(c.secrets) > 0 && !strings.Contains(out, "stays in the keyring") {
				t.Errorf("unwrap did not say the secrets stay:\n%s", out)
			}
			noValues("unwrap's config", string(un))

			// --restore-secrets brings them back, and out of the keyring.
			run("wrap", "--yes")
			out, err = run("unwrap", "--restore-secrets", "--yes")
			if err != nil {
				t.Fatalf("unwrap --restore-secrets: %v\n%s", err, out)
			}
			noValues("unwrap --restore-secrets' output", out)
			back, _ := os.ReadFile(path)
			bf, _ := clientconf.Parse(clientconf.Client(c.client), path, back, nil)
			for i, e := range bf.Entries {
				for _, kv := range origF.Entries[i].Env {
					if !slices.Contains(e.Env, kv) {
						t.Errorf("after --restore-secrets %s lacks %s", e.Name, kv.Key)
					}
				}
			}
			for env := range c.secrets {
				for _, s := range c.wrapped {
					if _, err := (keystore.Keyring{}).Get(keystore.Ref{Service: keystore.Service, User: strings.ToLower(c.client + "-" + s + "-" + env)}); err == nil {
						t.Errorf("%s still in the keyring after --restore-secrets", env)
					}
				}
			}
		})
	}
}

// wrapToken holds characters that JSON escapes ('"', '\', optionally
// '/'), that Go escapes (<, &), non-ASCII and a character outside the BMP,
// so that each escaped form of it differs.
const wrapToken = "ghp_Sl/ash\"Q\\uo<te&Ü€😀-"

// secretForms lists the ways value can be written in a file: raw,
// JSON-escaped as JavaScript, Go and Python write it (lower- and
// upper-case hex), each also with "\/", and its base64 forms.
func secretForms(value string) []string {
	esc := func(html, ascii bool, hex string) string {
		var b strings.Builder
		for _, r := range value {
			switch {
			case r == '"' || r == '\\':
				b.WriteString(`\` + string(r))
			case html && strings.ContainsRune("<>&", r):
				fmt.Fprintf(&b, `\u`+hex, r)
			case ascii && r > 0x7f:
				for _, c := range utf16.Encode([]rune{r}) {
					fmt.Fprintf(&b, `\u`+hex, c)
				}
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	out := []string{value}
	for _, html := range []bool{false, true} {
		for _, ascii := range []bool{false, true} {
			for _, hex := range []string{"%04x", "%04X"} {
				f := esc(html, ascii, hex)
				out = append(out, f, strings.ReplaceAll(f, "/", `\/`))
			}
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out = append(out, enc.EncodeToString([]byte(value)))
	}
	return out
}

// jsonASCII is value as Python's json.dumps writes it, with "\/".
func jsonASCII(value string) string { return secretForms(value)[6] }

// jsonMinimal is value as JavaScript's JSON.stringify writes it.
func jsonMinimal(value string) string { return secretForms(value)[1] }

// formIn returns the first form of value that text holds, or "".
func formIn(text, value string) string {
	for _, f := range secretForms(value) {
		if strings.Contains(text, f) {
			return f
		}
	}
	return ""
}

// filesHolding lists the files under root that hold a form of value.
func filesHolding(t *testing.T, root, value string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if f := formIn(string(b), value); f != "" {
			out = append(out, fmt.Sprintf("%s (as %q)", p, f))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshot is every file under root: its mode and content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		b, _ := os.ReadFile(p)
		out[p] = info.Mode().String() + "\n" + string(b)
		return nil
	})
	return out
}

func randomHex(t *testing.T) string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ringValue reads an item of service mcpcell; "" when it is absent.
func ringValue(t *testing.T, item string) string {
	t.Helper()
	v, err := keystore.Keyring{}.Get(keystore.Ref{Service: keystore.Service, User: item})
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("keyring: %v", err)
	}
	return v
}

// wrapEnv is a project with a Claude Code config, for wrap and unwrap.
type wrapEnv struct {
	t          *testing.T
	root, path string
}

func newWrapEnv(t *testing.T, config string, mode os.FileMode) *wrapEnv {
	root := t.TempDir()
	path := filepath.Join(root, "proj", ".mcp.json")
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(config), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
	return &wrapEnv{t, root, path}
}

// run runs mcpcell wrap or unwrap on the config; out is stdout and
// stderr together.
func (w *wrapEnv) run(args ...string) (string, error) {
	cmd := mcpcellCmd(append(args, "--client", "claude-code", "--config", w.path)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(w.root, "config"), anyBinaryEnv+"=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (w *wrapEnv) read() string {
	b, err := os.ReadFile(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

func (w *wrapEnv) backups() []string {
	b, _ := filepath.Glob(w.path + ".mcpcell-backup-*")
	return b
}

// envOf is the env of a server in the config as it is now.
func (w *wrapEnv) envOf(server string) []clientconf.KV {
	f, err := clientconf.Parse(clientconf.ClaudeCode, w.path, []byte(w.read()), nil)
	if err != nil {
		w.t.Fatalf("the config does not parse: %v", err)
	}
	for _, e := range f.Entries {
		if e.Name == server {
			return e.Env
		}
	}
	w.t.Fatalf("no server %s", server)
	return nil
}

func cleanItems(t *testing.T, items ...string) {
	t.Cleanup(func() {
		for _, it := range items {
			keystore.Remove(keystore.Keyring{}, it)
			keystore.Keyring{}.Delete(keystore.Ref{Service: originService, User: it})
		}
	})
}

// Requirement: the backup wrap writes holds no secret. The token's
// bytes, and its JSON-escaped and base64 forms, are in no file under the
// project after wrap: not in the backup (mode 0600 though the config is
// 0644), the profiles, or anything else; and the keyring holds it.
func TestWrapBackupHoldsNoSecret(t *testing.T) {
	needKeyring(t)
	tok := wrapToken + randomHex(t)
	const gh, gh2 = "claude-code-gh-github_token", "claude-code-gh2-gh_pat"
	cleanItems(t, gh, gh2, "claude-code-new-new_secret")
	// The same token twice, written in two escaped forms; a credential the
	// client fills in and a short one, which stay in the config.
	orig := `{
  "mcpServers": {
    "gh": {"command": "node", "args": ["a.js"], "env": {"GITHUB_TOKEN": "` + jsonASCII(tok) + `", "MODE": "fast"}},
    "gh2": {"command": "node", "args": ["b.js"], "env": {"GH_PAT": "` + jsonMinimal(tok) + `"}},
    "prompted": {"command": "node", "args": ["c.js"], "env": {"API_TOKEN": "${API_TOKEN}", "SHORT_KEY": "abc"}}
  }
}
`
	w := newWrapEnv(t, orig, 0o644)
	// Control: the search finds the token in the config, in both forms.
	if got := filesHolding(t, w.root, tok); len(got) != 1 || !strings.Contains(orig, jsonASCII(tok)) || !strings.Contains(orig, jsonMinimal(tok)) || jsonASCII(tok) == jsonMinimal(tok) {
		t.Fatalf("control: files holding the token before wrap: %v", got)
	}
	noForm := func(what, text string, values ...string) {
		t.Helper()
		for _, v := range values {
			if f := formIn(text, v); f != "" {
				t.Errorf("%s holds a secret as %q:\n%s", what, f, text)
			}
		}
	}

	// --dry-run writes nothing, not even to the keyring, and masks values.
	before := snapshot(t, w.root)
	out, err := w.run("wrap", "--dry-run")
	if err != nil || !strings.Contains(out, "(dry run: nothing was changed)") || !strings.Contains(out, "mode 0600, with no secret") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	noForm("the dry run's output", out, tok)
	if !maps.Equal(before, snapshot(t, w.root)) {
		t.Errorf("the dry run changed files")
	}
	if ringValue(t, gh) != "" || ringValue(t, gh2) != "" {
		t.Errorf("the dry run wrote to the keyring")
	}

	out, err = w.run("wrap", "--yes")
	if err != nil {
		t.Fatalf("wrap: %v\n%s", err, out)
	}
	noForm("wrap's output", out, tok)
	if got := filesHolding(t, w.root, tok); len(got) > 0 {
		t.Errorf("after wrap, files hold the token: %v", got)
	}
	backups := w.backups()
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	first, _ := os.ReadFile(backups[0])
	if st, _ := os.Stat(backups[0]); st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
	}
	if st, _ := os.Stat(w.path); st.Mode().Perm() != 0o644 {
		t.Errorf("config mode %v, want 0644 as it was", st.Mode().Perm())
	}
	if !strings.Contains(out, "mcpcell: backup: "+backups[0]+" (mode 0600), with no secret that left the config") {
		t.Errorf("wrap did not name the backup and say what it holds:\n%s", out)
	}
	// The backup is the original with markers for the moved values.
	want := strings.NewReplacer(jsonASCII(tok), clientconf.Marker(gh), jsonMinimal(tok), clientconf.Marker(gh2)).Replace(orig)
	if string(first) != want {
		t.Errorf("backup:\n%s\nwant:\n%s", first, want)
	}
	if ringValue(t, gh) != tok || ringValue(t, gh2) != tok {
		t.Errorf("the keyring does not hold the token under %s and %s", gh, gh2)
	}
	// What is not moved stays in the config as it was.
	if got := fmt.Sprint(w.envOf("prompted")); got != "[{API_TOKEN ${API_TOKEN}} {SHORT_KEY abc}]" {
		t.Errorf("prompted env after wrap: %s", got)
	}

	// Wrapping twice changes nothing, and writes no second backup.
	before = snapshot(t, w.root)
	if out, err := w.run("wrap", "--yes"); err != nil || !strings.Contains(out, "nothing to change") || !maps.Equal(before, snapshot(t, w.root)) {
		t.Errorf("second wrap: %v\n%s", err, out)
	}

	// The user adds a server with another token; wrap again: a second
	// backup (in the same second too), the first one kept.
	tok2 := "xoxb-N\"ew/é" + randomHex(t)
	edited := strings.Replace(w.read(), `"mcpServers": {`, `"mcpServers": {`+"\n    "+`"new": {"command": "node", "env": {"NEW_SECRET": "`+jsonMinimal(tok2)+`"}},`, 1)
	os.WriteFile(w.path, []byte(edited), 0o644)
	out, err = w.run("wrap", "--yes")
	if err != nil {
		t.Fatalf("wrap after an edit: %v\n%s", err, out)
	}
	noForm("the second wrap's output", out, tok, tok2)
	for _, v := range []string{tok, tok2} {
		if got := filesHolding(t, w.root, v); len(got) > 0 {
			t.Errorf("after the second wrap, files hold a token: %v", got)
		}
	}
	if b := w.backups(); len(b) != 2 {
		t.Errorf("backups after the second wrap: %v", b)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != string(first) {
		t.Errorf("the second wrap changed the first backup")
	}
	if ringValue(t, "claude-code-new-new_secret") != tok2 {
		t.Errorf("the new token is not in the keyring")
	}

	// The user restores the backup and wraps again: a marker is not a
	// value, the keyring keeps the token.
	os.WriteFile(w.path, first, 0o644)
	out, err = w.run("wrap", "--yes")
	if err != nil || !strings.Contains(out, `secret GITHUB_TOKEN: in the keyring as item "`+gh+`" already`) {
		t.Fatalf("wrap of the restored backup: %v\n%s", err, out)
	}
	if ringValue(t, gh) != tok || ringValue(t, gh2) != tok {
		t.Errorf("wrapping a restored backup changed the keyring")
	}

	// Restored backup + unwrap --restore-secrets: the original values.
	os.WriteFile(w.path, first, 0o644)
	out, err = w.run("unwrap", "--restore-secrets", "--yes")
	if err != nil {
		t.Fatalf("unwrap --restore-secrets of the restored backup: %v\n%s", err, out)
	}
	noForm("unwrap's output", out, tok)
	if got := w.envOf("gh"); len(got) != 2 || got[0] != (clientconf.KV{Key: "GITHUB_TOKEN", Value: tok}) {
		t.Errorf("gh env after restoring: %q", got)
	}
	if got := w.envOf("gh2"); len(got) != 1 || got[0].Value != tok {
		t.Errorf("gh2 env after restoring: %q", got)
	}
	if ringValue(t, gh) != "" || ringValue(t, gh2) != "" {
		t.Errorf("the items stay in the keyring after --restore-secrets")
	}

	// An item that is gone: a clear error naming it, and nothing changed.
	if out, err := w.run("wrap", "--yes"); err != nil {
		t.Fatalf("wrap: %v\n%s", err, out)
	}
	keystore.Remove(keystore.Keyring{}, gh2)
	before = snapshot(t, w.root)
	out, err = w.run("unwrap", "--restore-secrets", "--yes")
	if err == nil || !strings.Contains(out, "mcpcell: error: unwrap: GH_PAT of gh2: secret "+gh2+" is not in the keyring (service mcpcell); nothing was changed") {
		t.Errorf("unwrap without an item: %v\n%s", err, out)
	}
	if !strings.Contains(out, "mcpcell: hint: mcpcell secret set "+gh2+"; or unwrap without --restore-secrets") {
		t.Errorf("no hint:\n%s", out)
	}
	if !maps.Equal(before, snapshot(t, w.root)) {
		t.Errorf("a failed unwrap changed files")
	}
	if ringValue(t, gh) != tok {
		t.Errorf("a failed unwrap removed %s", gh)
	}
}

// Backups an older mcpcell wrote (the token in plain text, the config's
// mode) are named, and left as they are: they may be the only copy.
func TestWrapNamesOlderBackups(t *testing.T) {
	needKeyring(t)
	tok := wrapToken + randomHex(t)
	cleanItems(t, "claude-code-gh-github_token")
	orig := `{"mcpServers": {"gh": {"command": "node", "env": {"GITHUB_TOKEN": "` + jsonMinimal(tok) + `"}}}}`
	w := newWrapEnv(t, orig, 0o644)
	old := w.path + ".mcpcell-backup-20250101T000000"
	os.WriteFile(old, []byte(orig), 0o644)
	os.Chmod(old, 0o644)
	// A backup whose credentials are all still in the config is not named.
	other := w.path + ".mcpcell-backup-20250101T000001"
	os.WriteFile(other, []byte(`{"mcpServers": {}}`), 0o644)

	out, err := w.run("wrap", "--yes")
	if err != nil {
		t.Fatalf("wrap: %v\n%s", err, out)
	}
	if !strings.Contains(out, "note: "+old+", an older backup, holds credentials in plain text that the config no longer holds (mode -rw-r--r--): delete it") || strings.Contains(out, other) {
		t.Errorf("the older backup is not named, or the clean one is:\n%s", out)
	}
	if b, _ := os.ReadFile(old); string(b) != orig {
		t.Errorf("wrap changed the older backup")
	}
	if got := filesHolding(t, w.root, tok); len(got) != 1 || !strings.HasPrefix(got[0], old+" ") {
		t.Errorf("files holding the token: %v, want only the older backup", got)
	}
	// It is named on every run until it is gone.
	out, _ = w.run("wrap", "--dry-run")
	if !strings.Contains(out, old) {
		t.Errorf("the second run does not name it:\n%s", out)
	}
	os.Remove(old)
	if out, _ = w.run("wrap", "--dry-run"); strings.Contains(out, "older backup") {
		t.Errorf("a backup is named after it was removed:\n%s", out)
	}
}

// Two projects whose servers share a name: the second wrap does not
// overwrite the first's keyring item (the backup has only a marker, so the
// keyring holds the only copy), and each wrapped profile resolves to its
// own value.
func TestWrapKeepsOtherKeyringValues(t *testing.T) {
	needKeyring(t)
	const item = "claude-code-gh-github_token"
	cleanItems(t, item, item+"-2")
	tokA, tokB := "ghp_A"+randomHex(t), "ghp_B"+randomHex(t)
	a := newWrapEnv(t, `{"mcpServers": {"gh": {"command": "node", "env": {"GITHUB_TOKEN": "`+tokA+`"}}}}`, 0o600)
	b := newWrapEnv(t, `{"mcpServers": {"gh": {"command": "node", "env": {"GITHUB_TOKEN": "`+tokB+`"}}}}`, 0o600)
	if out, err := a.run("wrap", "--yes"); err != nil {
		t.Fatalf("wrap a: %v\n%s", err, out)
	}
	out, err := b.run("wrap", "--yes")
	if err != nil {
		t.Fatalf("wrap b: %v\n%s", err, out)
	}
	if !strings.Contains(out, `secret GITHUB_TOKEN: into the keyring as item "`+item+`-2"`) || !strings.Contains(out, "keyring item "+item+" is taken") {
		t.Errorf("wrap b does not say it uses %s-2:\n%s", item, out)
	}
	if ringValue(t, item) != tokA || ringValue(t, item+"-2") != tokB {
		t.Errorf("keyring: %s holds a's value: %v; %s-2 holds b's: %v", item, ringValue(t, item) == tokA, item, ringValue(t, item+"-2") == tokB)
	}
	if bk, _ := os.ReadFile(b.backups()[0]); !strings.Contains(string(bk), clientconf.Marker(item+"-2")) {
		t.Errorf("b's backup does not name its own item:\n%s", bk)
	}
	for _, p := range []string{a.root, b.root} {
		profile := filepath.Join(p, "proj", ".mcpcell.gh.toml")
		if out, err := mcpcellCmd("secret", "check", "--profile", profile).CombinedOutput(); err != nil {
			t.Errorf("secret check %s: %v\n%s", profile, err, out)
		}
	}
	// Unwrapping b gives b its own value back and leaves a's item.
	if out, err := b.run("unwrap", "--restore-secrets", "--yes"); err != nil || fmt.Sprint(b.envOf("gh")) != "[{GITHUB_TOKEN "+tokB+"}]" {
		t.Errorf("unwrap b: %v %v\n%s", err, b.envOf("gh"), out)
	}
	if ringValue(t, item) != tokA || ringValue(t, item+"-2") != "" {
		t.Errorf("after unwrapping b, a's item is gone or b's stays")
	}
}

// wrap writes a new profile only where nothing is: a dangling link that a
// server in a cell (which may write the project) planted at the profile's
// path does not make wrap write where it points.
func TestWrapProfileNotThroughLink(t *testing.T) {
	needKeyring(t)
	cleanItems(t, "claude-code-gh-github_token")
	orig := `{"mcpServers": {"gh": {"command": "node", "env": {"GITHUB_TOKEN": "ghp_link` + randomHex(t) + `"}}}}`
	w := newWrapEnv(t, orig, 0o600)
	target := filepath.Join(w.root, "outside", "planted")
	os.MkdirAll(filepath.Dir(target), 0o755)
	link := filepath.Join(w.root, "proj", ".mcpcell.gh.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	out, err := w.run("wrap", "--yes")
	if err == nil || !strings.Contains(out, "mcpcell: hint: something appeared at "+link) {
		t.Errorf("wrap through a link: %v\n%s", err, out)
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("wrap wrote through the link to %s", target)
	}
	if w.read() != orig || len(w.backups()) != 0 {
		t.Errorf("the config changed, or a backup was written")
	}
}

// hostileStore is a keyring whose errors quote the value they were given
// and that cannot be read.
type hostileStore struct{ getErr error }

func (h hostileStore) Get(r keystore.Ref) (string, error) {
	if h.getErr != nil {
		return "", h.getErr
	}
	return "", &keystore.Error{Msg: "not there", Err: keystore.ErrNotFound}
}
func (hostileStore) Set(r keystore.Ref, v string) error {
	if r.Service != keystore.Service {
		return nil // the record of the item's origin
	}
	return fmt.Errorf("backend refused %q", v)
}
func (hostileStore) Delete(keystore.Ref) error { return nil }

// Error messages mask values, even a keyring error that quotes one; and a
// keyring failure changes no file.
func TestWrapErrorsMaskValues(t *testing.T) {
	tok := wrapToken + randomHex(t)
	orig := `{"mcpServers": {"gh": {"command": "node", "env": {"GITHUB_TOKEN": "` + jsonMinimal(tok) + `"}}}}`
	w := newWrapEnv(t, orig, 0o644)
	if f := formIn(hostileStore{}.Set(keystore.Ref{Service: keystore.Service}, tok).Error(), tok); f == "" {
		t.Fatalf("control: the store's error does not quote the value")
	}
	for _, c := range []struct {
		name  string
		store hostileStore
		args  []string
		want  string
	}{
		{"a keyring that refuses quoting the value", hostileStore{}, []string{"--yes"}, "mcpcell: error: storing GITHUB_TOKEN of gh: backend refused \"[redacted:secret GITHUB_TOKEN]\"; no file was changed"},
		{"a keyring that cannot be read", hostileStore{getErr: errors.New("locked")}, []string{"--dry-run"}, "mcpcell: error: wrap: locked; nothing was changed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := snapshot(t, w.root)
			var out strings.Builder
			cl := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(k string) string {
				if k == "XDG_CONFIG_HOME" {
					return filepath.Join(w.root, "config")
				}
				return os.Getenv(k)
			}, store: c.store, anyBinary: true}
			code := cl.wrap(append([]string{"--client", "claude-code", "--config", w.path}, c.args...), false)
			if code == 0 || !strings.Contains(out.String(), c.want) {
				t.Errorf("exit %d, want the error %q:\n%s", code, c.want, out.String())
			}
			if f := formIn(out.String(), tok); f != "" {
				t.Errorf("the output holds the token as %q:\n%s", f, out.String())
			}
			if !maps.Equal(before, snapshot(t, w.root)) {
				t.Errorf("files changed")
			}
		})
	}
}

// Two backups in the same second are two files; a backup is never
// written over a file or through a link planted at its name.
func TestWriteBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mcp.json")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	target := filepath.Join(dir, "elsewhere")
	planted := path + ".mcpcell-backup-20260102T030405-2"
	if err := os.Symlink(target, planted); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, text := range []string{"first", "second"} {
		name, err := writeBackup(path, []byte(text), now)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	want := []string{path + ".mcpcell-backup-20260102T030405", path + ".mcpcell-backup-20260102T030405-3"}
	if !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	for i, text := range []string{"first", "second"} {
		b, _ := os.ReadFile(names[i])
		st, _ := os.Lstat(names[i])
		if string(b) != text || st.Mode() != 0o600 {
			t.Errorf("%s: %q, mode %v", names[i], b, st.Mode())
		}
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("a backup went through the planted link")
	}
}
