package clientconf

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
)

// token holds characters that JSON escapes ("/" optionally, '"', '\'),
// HTML-escaped ones (&, <), non-ASCII and a character outside the BMP,
// so each escaped form differs from the others.
const token = "ghp_Sl/ash\"Q\\uo<te&Ü€😀-0123456789abcdef"

// forms lists every way s is written in a file: raw, JSON-escaped as
// JavaScript, Go and Python write it (lower- and upper-case hex), each
// also with "\/", and base64.
func forms(s string) []string {
	esc := func(html, ascii, upper bool) string {
		var b strings.Builder
		u := func(r rune) {
			if upper {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		}
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b.WriteString(`\` + string(r))
			case html && strings.ContainsRune("<>&", r):
				u(r)
			case ascii && r > 0x7f:
				for _, c := range utf16.Encode([]rune{r}) {
					u(rune(c))
				}
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	out := []string{s}
	for _, html := range []bool{false, true} {
		for _, ascii := range []bool{false, true} {
			for _, upper := range []bool{false, true} {
				f := esc(html, ascii, upper)
				out = append(out, f, strings.ReplaceAll(f, "/", `\/`))
			}
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out = append(out, enc.EncodeToString([]byte(s)))
	}
	return out
}

func holdsForm(text, value string) string {
	for _, f := range forms(value) {
		if strings.Contains(text, f) {
			return f
		}
	}
	return ""
}

func TestParseMarker(t *testing.T) {
	for _, c := range []struct {
		v, item string
		ok      bool
	}{
		{"mcpcell-keyring:claude-code-gh-github_token", "claude-code-gh-github_token", true},
		{"mcpcell-keyring:x-2", "x-2", true},
		{Marker("item with space"), "item with space", true},
		{"mcpcell-keyring:", "", false},
		{"mcpcell-keyring: x", "", false},
		{"mcpcell-keyring:x\n", "", false},
		{"MCPCELL-KEYRING:x", "", false},
		{"ghp_mcpcell-keyring:x", "", false},
		{"", "", false},
	} {
		item, ok := ParseMarker(c.v)
		if item != c.item || ok != c.ok {
			t.Errorf("ParseMarker(%q) = %q, %v; want %q, %v", c.v, item, ok, c.item, c.ok)
		}
	}
}

// The backup holds no form of a moved credential, stays valid JSONC, and
// differs from the original only in the moved values.
func TestBackupMasksMovedCredentials(t *testing.T) {
	// The same token twice, written in two escaped forms; a credential
	// that stays (a reference the client fills in, and a short one).
	ascii := forms(token)[6] // ASCII-only, lower-case hex, with \/
	text := `// servers
{
  "servers": {
    "gh": {"command": "node", "args": ["a.js"], "env": {"GITHUB_TOKEN": "` + ascii + `", "MODE": "fast"}},
    /* same token */ "gh2": {"command": "node", "env": {"GH_PAT": "` + forms(token)[1] + `",},},
    "prompted": {"command": "node", "env": {"API_KEY": "${input:key}", "SHORT_TOKEN": "abc"}},
  },
}
`
	if holdsForm(text, token) == "" {
		t.Fatalf("control: the search does not find the token in the original")
	}
	f, err := Parse(VSCode, "/p/.vscode/mcp.json", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	servers, err := PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", Exists: func(string) bool { return false }, IsDir: func(string) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	backup := f.Backup(servers)
	if got := holdsForm(string(backup), token); got != "" {
		t.Errorf("the backup holds the token as %q:\n%s", got, backup)
	}
	want := strings.NewReplacer(`"`+ascii+`"`, `"mcpcell-keyring:vscode-gh-github_token"`, `"`+forms(token)[1]+`"`, `"mcpcell-keyring:vscode-gh2-gh_pat"`).Replace(text)
	if string(backup) != want {
		t.Errorf("backup:\n%s\nwant:\n%s", backup, want)
	}
	bf, err := Parse(VSCode, "/p/.vscode/mcp.json", backup)
	if err != nil {
		t.Fatalf("the backup does not parse: %v", err)
	}
	for i, e := range bf.Entries {
		for j, kv := range e.Env {
			orig := f.Entries[i].Env[j]
			if item, ok := ParseMarker(kv.Value); ok != (orig.Value == token) || ok && !strings.HasPrefix(item, "vscode-"+e.Name+"-") {
				t.Errorf("%s %s: backup value %q for %q", e.Name, kv.Key, kv.Value, orig.Value)
			}
		}
	}
	// Nothing a new config keeps moves: the reference and the short value stay.
	if got := f.Entries[2].Env; len(servers[2].Secrets) != 0 || got[0].Value != "${input:key}" || got[1].Value != "abc" {
		t.Errorf("prompted: secrets %v", servers[2].Secrets)
	}
	// Left in the backup: only the short one, which stays in the config.
	if c := bf.Findings(); len(c) != 1 || c[0].Path != "servers.prompted.env.SHORT_TOKEN" || c[0].Parts[0] != "abc" {
		t.Errorf("credentials in the backup: %+v", c)
	}
	if c := f.Findings(); len(c) != 3 {
		t.Errorf("control: credentials in the original: %d, want 3", len(c))
	}
}

// A marker (a restored backup) is not a value: wrap takes the item as it
// is and stores nothing; a marker whose item is gone is an error.
func TestWrapMarker(t *testing.T) {
	text := `{"mcpServers": {"gh": {"command": "node", "env": {"GITHUB_TOKEN": "mcpcell-keyring:claude-desktop-gh-github_token", "OTHER": "mcpcell-keyring:kept"}}}}`
	f, _ := Parse(ClaudeDesktop, "/c/claude_desktop_config.json", []byte(text))
	ring := map[string]string{"claude-desktop-gh-github_token": token, "kept": "kept-value-123"}
	held := func(item string) (string, bool, error) { v, ok := ring[item]; return v, ok, nil }
	o := WrapOptions{Mcpcell: "/bin/mcpcell", Exists: func(string) bool { return false }, IsDir: func(string) bool { return false }, Held: held}
	servers, err := PlanWrap(f, o)
	if err != nil {
		t.Fatal(err)
	}
	s := servers[0]
	if len(s.Secrets) != 2 || !s.Secrets[0].Stored || s.Secrets[0].Value != "" || s.Secrets[0].Item != "claude-desktop-gh-github_token" || s.Secrets[1].Item != "kept" {
		t.Errorf("secrets %+v", s.Secrets)
	}
	if !strings.Contains(s.ProfileText, `GITHUB_TOKEN = "claude-desktop-gh-github_token"`) || !strings.Contains(s.ProfileText, `OTHER = "kept"`) || strings.Contains(s.ProfileText, "[env.set]") {
		t.Errorf("profile:\n%s", s.ProfileText)
	}
	if b := f.Backup(servers); string(b) != text {
		t.Errorf("a backup of markers changed:\n%s", b)
	}
	delete(ring, "kept")
	if _, err := PlanWrap(f, o); err == nil || !strings.Contains(err.Error(), "keyring item kept, which is not in the keyring") {
		t.Errorf("a marker of a missing item: %v", err)
	}
}

// Wrap never overwrites an item that holds another value: the backup has
// only a marker, so the keyring holds the only copy.
func TestPickItemKeepsOtherValues(t *testing.T) {
	text := `{"mcpServers": {}, "projects": {
  "/a": {"mcpServers": {"db": {"command": "pg", "env": {"PGPASSWORD": "password-of-a"}}}},
  "/b": {"mcpServers": {"db": {"command": "pg", "env": {"PGPASSWORD": "password-of-b"}}}},
  "/c": {"mcpServers": {"db": {"command": "pg", "env": {"PGPASSWORD": "password-of-c"}}}}}}`
	f, err := Parse(ClaudeCode, "/h/.claude.json", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	const base = "claude-code-db-pgpassword"
	for _, c := range []struct {
		name  string
		ring  map[string]string
		kept  map[string]string // the kept profile of /c: env -> item
		items []string
	}{
		{"empty keyring: one item each", nil, nil, []string{base, base + "-2", base + "-3"}},
		{"same value: reused", map[string]string{base: "password-of-a"}, nil, []string{base, base + "-2", base + "-3"}},
		{"another value: skipped", map[string]string{base: "from another config", base + "-3": "password-of-b"}, nil, []string{base + "-2", base + "-3", base + "-4"}},
		{"a kept profile updates its own item", map[string]string{base + "-7": "old-password-c"}, map[string]string{"PGPASSWORD": base + "-7"}, []string{base, base + "-2", base + "-7"}},
		{"a kept profile cannot point at another item", map[string]string{"npm": "npm-token-value"}, map[string]string{"PGPASSWORD": "npm"}, []string{base, base + "-2", base + "-3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			held := func(item string) (string, bool, error) { v, ok := c.ring[item]; return v, ok, nil }
			o := WrapOptions{Mcpcell: "/bin/mcpcell", IsDir: func(string) bool { return false }, Held: held,
				Exists:  func(p string) bool { return c.kept != nil && p == "/c/.mcpcell.db.toml" },
				Profile: func(string) ([]KV, map[string]string, error) { return nil, c.kept, nil }}
			servers, err := PlanWrap(f, o)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range servers {
				for _, sec := range s.Secrets {
					got = append(got, sec.Item)
					if v, ok := c.ring[sec.Item]; ok && v != sec.Value && c.kept["PGPASSWORD"] != sec.Item {
						t.Errorf("%s overwrites item %s", s.Entry.Project, sec.Item)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.items) {
				t.Errorf("items %v, want %v", got, c.items)
			}
		})
	}
	boom := errors.New("keyring locked")
	if _, err := PlanWrap(f, WrapOptions{Exists: func(string) bool { return false }, IsDir: func(string) bool { return false }, Held: func(string) (string, bool, error) { return "", false, boom }}); !errors.Is(err, boom) {
		t.Errorf("a keyring that cannot be read: %v", err)
	}
}

func TestDerived(t *testing.T) {
	for _, c := range []struct {
		item string
		want bool
	}{{"a-b", true}, {"a-b-2", true}, {"a-b-17", true}, {"a-b-1", false}, {"a-b-0", false}, {"a-b-x", false}, {"a-b-c-2", false}, {"a-bc", false}, {"a", false}, {"npm", false}} {
		if got := derived(c.item, "a-b"); got != c.want {
			t.Errorf("derived(%q, a-b) = %v", c.item, got)
		}
	}
}

// unwrap --restore-secrets brings back every secret or none: an item that
// is gone is an error naming it.
func TestUnwrapRestoreAllOrNothing(t *testing.T) {
	text := `{"mcpServers": {
  "a": {"command": "/bin/mcpcell", "args": ["run", "--profile", "/p/a.toml", "--", "node", "a.js"]},
  "b": {"command": "node", "env": {"B_TOKEN": "mcpcell-keyring:claude-desktop-b-b_token", "MODE": "x"}}}}`
	f, _ := Parse(ClaudeDesktop, "/c/claude_desktop_config.json", []byte(text))
	ring := map[string]string{"claude-desktop-a-a_token": "value-of-a-123", "claude-desktop-b-b_token": token, "shared": "shared-value-1"}
	o := UnwrapOptions{Mcpcell: "/bin/mcpcell",
		Profile: func(string) ([]KV, map[string]string, error) {
			return nil, map[string]string{"A_TOKEN": "claude-desktop-a-a_token", "SHARED": "shared"}, nil
		},
		Value: func(item string) (string, error) {
			if v, ok := ring[item]; ok {
				return v, nil
			}
			return "", fmt.Errorf("secret %s is not in the keyring (service mcpcell)", item)
		}}
	servers, err := PlanUnwrap(f, o)
	if err != nil {
		t.Fatal(err)
	}
	if servers[1].Action != "restore secrets" || len(servers[1].Secrets) != 1 || servers[1].Secrets[0].Value != token || !servers[1].Secrets[0].Owned {
		t.Errorf("b: %s %+v", servers[1].Action, servers[1].Secrets)
	}
	for _, sec := range servers[0].Secrets {
		if sec.Owned != (sec.Item != "shared") {
			t.Errorf("a: %s owned=%v", sec.Item, sec.Owned)
		}
	}
	out := f.Apply(Edits(servers))
	nf, err := Parse(ClaudeDesktop, f.Path, out)
	if err != nil {
		t.Fatalf("unwrapped file: %v\n%s", err, out)
	}
	if got := fmt.Sprint(nf.Entries[1].Env); got != fmt.Sprint([]KV{{"B_TOKEN", token}, {"MODE", "x"}}) {
		t.Errorf("b env %s", got)
	}
	// The diff shows markers, never values.
	if shown := f.Apply(ShownEdits(servers)); holdsForm(string(shown), token) != "" || holdsForm(string(shown), "value-of-a-123") != "" {
		t.Errorf("shown text holds a value:\n%s", shown)
	}
	// Without --restore-secrets the marker stays and a note says so.
	servers, _ = PlanUnwrap(f, UnwrapOptions{Mcpcell: "/bin/mcpcell", Profile: o.Profile})
	if servers[1].Action != "left alone: not wrapped" || !strings.Contains(strings.Join(servers[1].Notes, "\n"), "B_TOKEN is a marker") {
		t.Errorf("b without restoring: %s %v", servers[1].Action, servers[1].Notes)
	}
	for _, gone := range []string{"claude-desktop-a-a_token", "claude-desktop-b-b_token"} {
		v := ring[gone]
		delete(ring, gone)
		if _, err := PlanUnwrap(f, o); err == nil || !strings.Contains(err.Error(), "secret "+gone+" is not in the keyring") {
			t.Errorf("without %s: %v", gone, err)
		}
		ring[gone] = v
	}
	// A profile that cannot be read cannot give its secrets back.
	o.Profile = func(string) ([]KV, map[string]string, error) { return nil, nil, errors.New("no such file") }
	if _, err := PlanUnwrap(f, o); err == nil || !strings.Contains(err.Error(), "cannot read its profile /p/a.toml") {
		t.Errorf("unreadable profile: %v", err)
	}
}

// Whatever config parses, its backup parses too, and each moved
// credential is its marker there.
func FuzzBackup(f *testing.F) {
	f.Add(`{"mcpServers": {"a": {"command": "x", "env": {"TOKEN": "` + `ghp_Sl\/ash\"Q\u00dc-0123456789` + `", "B": "c"}}}}`)
	f.Add("// c\n{\"servers\": {\"a\": {\"command\": \"x\", \"env\": {\"KEY\": \"abcdefgh\",},}, /* x */ \"b\": {\"command\": \"y\", \"env\": {\"API_KEY\": \"sk-123456789\"}}}}")
	f.Add(`{"mcpServers": {"a": {"command": "x", "env": {"TOKEN": "mcpcell-keyring:t"}}, "b": {"command": "y", "env": {"X": "ghp_abcdefghij", "PAT": "${input:p}"}}}}`)
	f.Fuzz(func(t *testing.T, text string) {
		cf, err := Parse(VSCode, "/p/.vscode/mcp.json", []byte(text))
		if err != nil {
			return
		}
		servers, err := PlanWrap(cf, WrapOptions{Mcpcell: "/bin/mcpcell", Exists: func(string) bool { return false }, IsDir: func(string) bool { return false }})
		if err != nil {
			t.Fatal(err)
		}
		backup := cf.Backup(servers)
		bf, err := Parse(VSCode, "/p/.vscode/mcp.json", backup)
		if err != nil {
			t.Fatalf("the backup does not parse: %v\n%s", err, backup)
		}
		moved := map[[2]string]string{}
		for _, s := range servers {
			for _, sec := range s.Secrets {
				moved[[2]string{s.Entry.Name, sec.Env}] = sec.Item
			}
		}
		for i, e := range bf.Entries {
			for j, kv := range e.Env {
				item, ok := moved[[2]string{e.Name, kv.Key}]
				switch {
				case ok && kv.Value != Marker(item):
					t.Errorf("%s %s: %q in the backup, want the marker of %s", e.Name, kv.Key, kv.Value, item)
				case !ok && kv != cf.Entries[i].Env[j]:
					t.Errorf("%s %s changed", e.Name, kv.Key)
				}
			}
		}
	})
}
