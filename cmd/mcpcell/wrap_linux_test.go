package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/keystore"
	"github.com/mcpcell/mcpcell/profiles/clientconf"
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
				cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(root, "config"))
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
			if b, _ := os.ReadFile(backups[0]); string(b) != orig {
				t.Errorf("the backup differs from the original")
			}
			if st, _ := os.Stat(backups[0]); st.Mode().Perm() != 0o640 {
				t.Errorf("backup mode %v", st.Mode().Perm())
			}
			f, err := clientconf.Parse(clientconf.Client(c.client), path, text)
			if err != nil {
				t.Fatalf("the wrapped file does not parse: %v\n%s", err, text)
			}
			origF, _ := clientconf.Parse(clientconf.Client(c.client), path, []byte(orig))
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
			uf, _ := clientconf.Parse(clientconf.Client(c.client), path, un)
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
			noValues("unwrap --restore-secrets' output", out)
			back, _ := os.ReadFile(path)
			bf, _ := clientconf.Parse(clientconf.Client(c.client), path, back)
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
