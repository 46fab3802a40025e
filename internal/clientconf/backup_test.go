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
		item, ok := parseMarker(c.v)
		if item != c.item || ok != c.ok {
			t.Errorf("parseMarker(%q) = %q, %v; want %q, %v", c.v, item, ok, c.item, c.ok)
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
	f, err := Parse(VSCode, "/p/.vscode/mcp.json", []byte(text), nil)
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
	bf, err := Parse(VSCode, "/p/.vscode/mcp.json", backup, nil)
	if err != nil {
		t.Fatalf("the backup does not parse: %v", err)
	}
	for i, e := range bf.Entries {
		for j, kv := range e.Env {
			orig := f.Entries[i].Env[j]
			if item, ok := parseMarker(kv.Value); ok != (orig.Value == token) || ok && !strings.HasPrefix(item, "vscode-"+e.Name+"-") {
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

// ring is a keyring with wrap's origin records, for plans.
type ring struct {
	values  map[string]string
	origins map[string]Origin
}

func (r ring) held(item string) (string, bool, error) { v, ok := r.values[item]; return v, ok, nil }
func (r ring) origin(item string) (Origin, bool, error) {
	o, ok := r.origins[item]
	return o, ok, nil
}
func (r ring) value(item string) (string, error) {
	if v, ok := r.values[item]; ok {
		return v, nil
	}
	return "", fmt.Errorf("secret %s is not in the keyring (service mcpcell)", item)
}

// A marker (a restored backup) is not a value: wrap takes the item as it
// is and stores nothing; a marker whose item is gone is an error.
func TestWrapMarker(t *testing.T) {
	text := `{"mcpServers": {"gh": {"command": "node", "env": {"GITHUB_TOKEN": "mcpcell-keyring:claude-desktop-gh-github_token-2"}}}}`
	f := parse(t, ClaudeDesktop, "/c/claude_desktop_config.json", text)
	r := ring{values: map[string]string{"claude-desktop-gh-github_token-2": token}, origins: map[string]Origin{"claude-desktop-gh-github_token-2": originOf(f, f.Entries[0], "GITHUB_TOKEN")}}
	o := WrapOptions{Mcpcell: "/bin/mcpcell", Exists: none, IsDir: none, Held: r.held, Origin: r.origin}
	servers, err := PlanWrap(f, o)
	if err != nil {
		t.Fatal(err)
	}
	s := servers[0]
	if len(s.Secrets) != 1 || !s.Secrets[0].Stored || s.Secrets[0].Value != "" || s.Secrets[0].Item != "claude-desktop-gh-github_token-2" {
		t.Errorf("secrets %+v", s.Secrets)
	}
	if !strings.Contains(s.ProfileText, `GITHUB_TOKEN = "claude-desktop-gh-github_token-2"`) || strings.Contains(s.ProfileText, "[env.set]") {
		t.Errorf("profile:\n%s", s.ProfileText)
	}
	if b := f.Backup(servers); string(b) != text {
		t.Errorf("a backup of markers changed:\n%s", b)
	}
	delete(r.values, "claude-desktop-gh-github_token-2")
	if _, err := PlanWrap(f, o); err == nil || !strings.Contains(err.Error(), "keyring item claude-desktop-gh-github_token-2, which is not in the keyring") {
		t.Errorf("a marker of a missing item: %v", err)
	}
}

// The victim's items, each with the origin wrap recorded for it.
var (
	victimDesktop = Origin{ClaudeDesktop, "/h/.config/Claude/claude_desktop_config.json", "mcpServers", "github", "GITHUB_PERSONAL_ACCESS_TOKEN"}
	victimCode    = Origin{ClaudeCode, "/h/.claude.json", "mcpServers", "github", "GITHUB_PERSONAL_ACCESS_TOKEN"}
	victimProject = Origin{ClaudeCode, "/h/.claude.json", `projects["/a"].mcpServers`, "db", "PGPASSWORD"}
	victimRing    = ring{
		values: map[string]string{
			"claude-desktop-github-github_personal_access_token": "ghp_VICTIMvictimVICTIMvictim0001",
			"claude-code-github-github_personal_access_token":    "ghp_VICTIMcodeVICTIMcode000002",
			"claude-code-github-github_personal_access_token-2":  "ghp_VICTIMcode2VICTIMcode200003",
			"claude-code-db-pgpassword":                          "victim-db-password-4",
			"claude-code-helper-api_key":                         "set-by-hand-not-by-wrap-5",
		},
		origins: map[string]Origin{
			"claude-desktop-github-github_personal_access_token": victimDesktop,
			"claude-code-github-github_personal_access_token":    victimCode,
			"claude-code-github-github_personal_access_token-2":  victimCode,
			"claude-code-db-pgpassword":                          victimProject,
		},
	}
)

// foreignMarkers are configs whose markers name an item wrap made for
// another entry (or made not at all), with the config the item was made
// for: there the same marker is honoured.
var foreignMarkers = []struct {
	name       string
	client     Client
	path, text string
	item       string
	home       string // the config the item belongs to: the control
	want       string
}{
	{"a repository's server takes another client's item", ClaudeCode, "/r/.mcp.json",
		`{"mcpServers": {"helper": {"command": "node", "args": ["tool.js"], "env": {"CONFIG_BLOB": "mcpcell-keyring:claude-desktop-github-github_personal_access_token"}}}}`,
		"claude-desktop-github-github_personal_access_token", "", "which wrap makes for another server or variable (for this one it makes claude-code-helper-config_blob or claude-code-helper-config_blob-N)"},
	{"the same server and variable name in another file", ClaudeCode, "/r/.mcp.json",
		`{"mcpServers": {"github": {"command": "node", "args": ["evil.js"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "mcpcell-keyring:claude-code-github-github_personal_access_token"}}}}`,
		"claude-code-github-github_personal_access_token", "/h/.claude.json", `which wrap made for GITHUB_PERSONAL_ACCESS_TOKEN of server "github" in /h/.claude.json`},
	{"a -N variant made for another file", ClaudeCode, "/r/.mcp.json",
		`{"mcpServers": {"github": {"command": "node", "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "mcpcell-keyring:claude-code-github-github_personal_access_token-2"}}}}`,
		"claude-code-github-github_personal_access_token-2", "/h/.claude.json", `which wrap made for GITHUB_PERSONAL_ACCESS_TOKEN of server "github" in /h/.claude.json`},
	{"another project's entry in the same file", ClaudeCode, "/h/.claude.json",
		`{"projects": {"/a": {"mcpServers": {}}, "/b": {"mcpServers": {"db": {"command": "pg", "env": {"PGPASSWORD": "mcpcell-keyring:claude-code-db-pgpassword"}}}}}}`,
		"claude-code-db-pgpassword", "", `which wrap made for PGPASSWORD of server "db" in /h/.claude.json`},
	{"another variable of the same server", ClaudeCode, "/h/.claude.json",
		`{"mcpServers": {"github": {"command": "node", "env": {"OTHER_TOKEN": "mcpcell-keyring:claude-code-github-github_personal_access_token"}}}}`,
		"claude-code-github-github_personal_access_token", "", "which wrap makes for another server or variable"},
	{"an item wrap did not make", ClaudeCode, "/r/.mcp.json",
		`{"mcpServers": {"helper": {"command": "node", "env": {"API_KEY": "mcpcell-keyring:claude-code-helper-api_key"}}}}`,
		"claude-code-helper-api_key", "", "the keyring has no record that wrap made it for this entry"},
	{"the name in other case", ClaudeCode, "/h/.claude.json",
		`{"mcpServers": {"github": {"command": "node", "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "mcpcell-keyring:Claude-Code-GitHub-github_personal_access_token"}}}}`,
		"Claude-Code-GitHub-github_personal_access_token", "", "which wrap makes for another server or variable"},
}

// Requirement: a marker is honoured only for the entry wrap made its item
// for, in the file it made it for. A config that names another entry's
// item, by any name, is refused as a whole: wrap gives its server
// nothing, and unwrap --restore-secrets writes no value into it.
func TestForeignMarkersRefused(t *testing.T) {
	for _, c := range foreignMarkers {
		t.Run(c.name, func(t *testing.T) {
			f := parse(t, c.client, c.path, c.text)
			for _, step := range []struct {
				name string
				plan func(*File) ([]*Server, error)
			}{
				{"wrap", func(f *File) ([]*Server, error) {
					return PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", Exists: none, IsDir: none, Held: victimRing.held, Origin: victimRing.origin})
				}},
				{"unwrap --restore-secrets", func(f *File) ([]*Server, error) {
					return PlanUnwrap(f, UnwrapOptions{Mcpcell: "/bin/mcpcell", Value: victimRing.value, Origin: victimRing.origin})
				}},
			} {
				servers, err := step.plan(f)
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "is the marker of keyring item "+c.item) || r.Hint == "" {
					t.Errorf("%s: %v, want a refusal saying %q", step.name, err, c.want)
				}
				for _, s := range servers {
					if len(s.Secrets) > 0 || holdsForm(string(f.Apply(Edits(servers))), victimRing.values[c.item]) != "" {
						t.Errorf("%s handed over %+v", step.name, s.Secrets)
					}
				}
			}
			// Control: in the file it was made for, the same marker of the
			// same item in the same entry is honoured.
			if c.home == "" {
				return
			}
			home := parse(t, c.client, c.home, c.text)
			servers, err := PlanWrap(home, WrapOptions{Mcpcell: "/bin/mcpcell", Exists: none, IsDir: none, Held: victimRing.held, Origin: victimRing.origin})
			if err != nil || len(servers[0].Secrets) != 1 || servers[0].Secrets[0].Item != c.item {
				t.Errorf("control: wrap of the marker in %s: %v %+v", c.home, err, servers)
			}
			servers, err = PlanUnwrap(home, UnwrapOptions{Mcpcell: "/bin/mcpcell", Value: victimRing.value, Origin: victimRing.origin})
			if err != nil || len(servers[0].Secrets) != 1 || !strings.Contains(string(home.Apply(Edits(servers))), victimRing.values[c.item]) {
				t.Errorf("control: unwrap of the marker in %s: %v", c.home, err)
			}
		})
	}
}

// unwrap --restore-secrets writes into a config only the items wrap made
// for the entry: a profile (which a server in a cell may write, in the
// project) that names another entry's item gets it no value; the item
// stays, and a warning says so.
func TestUnwrapRestoresOnlyItsOwnItems(t *testing.T) {
	text := `{"mcpServers": {"helper": {"command": "/bin/mcpcell", "args": ["run", "--profile", "/r/.mcpcell.helper.toml", "--", "node", "tool.js"]}}}`
	f := parse(t, ClaudeCode, "/r/.mcp.json", text)
	own := originOf(f, f.Entries[0], "API_TOKEN")
	r := ring{values: map[string]string{"claude-code-helper-api_token": "own-value-of-helper-1"}, origins: map[string]Origin{"claude-code-helper-api_token": own}}
	for k, v := range victimRing.values {
		r.values[k] = v
	}
	for k, v := range victimRing.origins {
		r.origins[k] = v
	}
	profile := map[string]string{
		"API_TOKEN":                    "claude-code-helper-api_token",
		"CONFIG_BLOB":                  "claude-desktop-github-github_personal_access_token",
		"GITHUB_PERSONAL_ACCESS_TOKEN": "claude-code-github-github_personal_access_token",
		"PGPASSWORD":                   "claude-code-db-pgpassword",
	}
	servers, err := PlanUnwrap(f, UnwrapOptions{Mcpcell: "/bin/mcpcell", Value: r.value, Origin: r.origin,
		Profile: func(string) ([]KV, map[string]string, error) { return nil, profile, nil }})
	if err != nil {
		t.Fatal(err)
	}
	out := string(f.Apply(Edits(servers)))
	for item, v := range victimRing.values {
		if holdsForm(out, v) != "" {
			t.Errorf("the unwrapped config holds the value of %s:\n%s", item, out)
		}
	}
	// Control: its own item comes back, and only it is removed.
	if !strings.Contains(out, `"API_TOKEN": "own-value-of-helper-1"`) || len(servers[0].Secrets) != 1 || !servers[0].Secrets[0].Owned {
		t.Errorf("its own item: %+v\n%s", servers[0].Secrets, out)
	}
	warnings := strings.Join(servers[0].Warnings, "\n")
	for _, env := range []string{"CONFIG_BLOB", "GITHUB_PERSONAL_ACCESS_TOKEN", "PGPASSWORD"} {
		if !strings.Contains(warnings, env+": the profile takes it from keyring item "+profile[env]+", which wrap did not make for this server: it is not written into the config") {
			t.Errorf("no warning for %s:\n%s", env, warnings)
		}
	}
}

// A profile wrap keeps (in a project: whoever wrote the project wrote it)
// cannot make wrap overwrite another entry's item with this entry's
// value, and wrap warns about each item it gives that wrap did not make
// for the server.
func TestWrapKeptProfileCannotTakeOthersItems(t *testing.T) {
	text := `{"mcpServers": {"github": {"command": "node", "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_ATTACKERattackerATTACKER0009"}}}}`
	f := parse(t, ClaudeCode, "/r/.mcp.json", text)
	kept := map[string]string{"GITHUB_PERSONAL_ACCESS_TOKEN": "claude-code-github-github_personal_access_token", "PGPASSWORD": "claude-code-db-pgpassword"}
	o := WrapOptions{Mcpcell: "/bin/mcpcell", IsDir: none, Held: victimRing.held, Origin: victimRing.origin,
		Exists:  func(p string) bool { return p == "/r/.mcpcell.github.toml" },
		Profile: func(string) ([]KV, map[string]string, error) { return nil, kept, nil }}
	servers, err := PlanWrap(f, o)
	if err != nil {
		t.Fatal(err)
	}
	s := servers[0]
	if len(s.Secrets) != 1 || victimRing.values[s.Secrets[0].Item] != "" {
		t.Errorf("wrap overwrites item %s of another entry", s.Secrets[0].Item)
	}
	warnings := strings.Join(s.Warnings, "\n")
	for env, item := range kept {
		if !strings.Contains(warnings, "gives the server keyring item "+item+" as "+env+", and wrap did not make that item for this server") {
			t.Errorf("no warning for %s:\n%s", item, warnings)
		}
	}
	// Control: a kept profile of the entry the item was made for updates it.
	home := parse(t, ClaudeCode, "/h/.claude.json", text)
	o.Exists = func(p string) bool { return p == "/cfg/wrapped/claude-code/github/.mcpcell.toml" }
	o.ConfigDir = "/cfg"
	servers, err = PlanWrap(home, o)
	if err != nil || servers[0].Secrets[0].Item != "claude-code-github-github_personal_access_token" {
		t.Errorf("control: the item's own entry: %v %+v", err, servers[0].Secrets)
	}
}

// Wrap never overwrites an item that holds another value: the backup has
// only a marker, so the keyring holds the only copy.
func TestPickItemKeepsOtherValues(t *testing.T) {
	text := `{"mcpServers": {}, "projects": {
  "/a": {"mcpServers": {"db": {"command": "pg", "env": {"PGPASSWORD": "password-of-a"}}}},
  "/b": {"mcpServers": {"db": {"command": "pg", "env": {"PGPASSWORD": "password-of-b"}}}},
  "/c": {"mcpServers": {"db": {"command": "pg", "env": {"PGPASSWORD": "password-of-c"}}}}}}`
	f, err := Parse(ClaudeCode, "/h/.claude.json", []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	const base = "claude-code-db-pgpassword"
	of := func(i int) Origin { return originOf(f, f.Entries[i], "PGPASSWORD") }
	for _, c := range []struct {
		name    string
		ring    map[string]string
		origins map[string]Origin
		kept    map[string]string // the kept profile of /c: env -> item
		items   []string
	}{
		{"empty keyring: one item each", nil, nil, nil, []string{base, base + "-2", base + "-3"}},
		{"same value, made for it: reused", map[string]string{base: "password-of-a"}, map[string]Origin{base: of(0)}, nil, []string{base, base + "-2", base + "-3"}},
		{"same value, made for another entry: skipped", map[string]string{base: "password-of-b"}, map[string]Origin{base: of(0)}, nil, []string{base + "-2", base + "-3", base + "-4"}},
		{"another value: skipped", map[string]string{base: "from another config", base + "-3": "password-of-b"}, map[string]Origin{base + "-3": of(1)}, nil, []string{base + "-2", base + "-3", base + "-4"}},
		{"a kept profile updates its own item", map[string]string{base + "-7": "old-password-c"}, map[string]Origin{base + "-7": of(2)}, map[string]string{"PGPASSWORD": base + "-7"}, []string{base, base + "-2", base + "-7"}},
		{"a kept profile takes a free item of its names", nil, nil, map[string]string{"PGPASSWORD": base + "-7"}, []string{base, base + "-2", base + "-7"}},
		{"a kept profile cannot update another entry's item", map[string]string{base + "-7": "password-of-a"}, map[string]Origin{base + "-7": of(0)}, map[string]string{"PGPASSWORD": base + "-7"}, []string{base, base + "-2", base + "-3"}},
		{"a kept profile cannot point at another item", map[string]string{"npm": "npm-token-value"}, nil, map[string]string{"PGPASSWORD": "npm"}, []string{base, base + "-2", base + "-3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ring{c.ring, c.origins}
			o := WrapOptions{Mcpcell: "/bin/mcpcell", IsDir: none, Held: r.held, Origin: r.origin,
				Exists:  func(p string) bool { return c.kept != nil && p == "/c/.mcpcell.db.toml" },
				Profile: func(string) ([]KV, map[string]string, error) { return nil, c.kept, nil }}
			servers, err := PlanWrap(f, o)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, s := range servers {
				for _, sec := range s.Secrets {
					got = append(got, sec.Item)
					if v, ok := c.ring[sec.Item]; ok && v != sec.Value && c.origins[sec.Item] != of(i) {
						t.Errorf("%s overwrites item %s", s.Entry.Project, sec.Item)
					}
					if sec.Origin != of(i) {
						t.Errorf("%s: origin %+v", s.Entry.Project, sec.Origin)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.items) {
				t.Errorf("items %v, want %v", got, c.items)
			}
		})
	}
	boom := errors.New("keyring locked")
	if _, err := PlanWrap(f, WrapOptions{Exists: none, IsDir: none, Held: func(string) (string, bool, error) { return "", false, boom }}); !errors.Is(err, boom) {
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
	f, _ := Parse(ClaudeDesktop, "/c/claude_desktop_config.json", []byte(text), nil)
	r := ring{values: map[string]string{"claude-desktop-a-a_token": "value-of-a-123", "claude-desktop-b-b_token": token, "shared": "shared-value-1"},
		origins: map[string]Origin{"claude-desktop-a-a_token": originOf(f, f.Entries[0], "A_TOKEN"), "claude-desktop-b-b_token": originOf(f, f.Entries[1], "B_TOKEN")}}
	o := UnwrapOptions{Mcpcell: "/bin/mcpcell", Value: r.value, Origin: r.origin,
		Profile: func(string) ([]KV, map[string]string, error) {
			return nil, map[string]string{"A_TOKEN": "claude-desktop-a-a_token", "SHARED": "shared"}, nil
		}}
	servers, err := PlanUnwrap(f, o)
	if err != nil {
		t.Fatal(err)
	}
	if servers[1].Action != "restore secrets" || len(servers[1].Secrets) != 1 || servers[1].Secrets[0].Value != token || !servers[1].Secrets[0].Owned {
		t.Errorf("b: %s %+v", servers[1].Action, servers[1].Secrets)
	}
	// SHARED is an item wrap did not make: it is not restored.
	if len(servers[0].Secrets) != 1 || servers[0].Secrets[0].Item != "claude-desktop-a-a_token" || !servers[0].Secrets[0].Owned {
		t.Errorf("a: %+v", servers[0].Secrets)
	}
	out := f.Apply(Edits(servers))
	nf, err := Parse(ClaudeDesktop, f.Path, out, nil)
	if err != nil {
		t.Fatalf("unwrapped file: %v\n%s", err, out)
	}
	if got := fmt.Sprint(nf.Entries[1].Env); got != fmt.Sprint([]KV{{"B_TOKEN", token}, {"MODE", "x"}}) {
		t.Errorf("b env %s", got)
	}
	if got := fmt.Sprint(nf.Entries[0].Env); got != fmt.Sprint([]KV{{"A_TOKEN", "value-of-a-123"}}) {
		t.Errorf("a env %s", got)
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
		v := r.values[gone]
		delete(r.values, gone)
		if _, err := PlanUnwrap(f, o); err == nil || !strings.Contains(err.Error(), "secret "+gone+" is not in the keyring") {
			t.Errorf("without %s: %v", gone, err)
		}
		r.values[gone] = v
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
		cf, err := Parse(VSCode, "/p/.vscode/mcp.json", []byte(text), nil)
		if err != nil {
			return
		}
		servers, err := PlanWrap(cf, WrapOptions{Mcpcell: "/bin/mcpcell", Exists: func(string) bool { return false }, IsDir: func(string) bool { return false }})
		var r *Refusal
		if errors.As(err, &r) {
			return // a marker wrap did not make
		}
		if err != nil {
			t.Fatal(err)
		}
		backup := cf.Backup(servers)
		bf, err := Parse(VSCode, "/p/.vscode/mcp.json", backup, nil)
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
