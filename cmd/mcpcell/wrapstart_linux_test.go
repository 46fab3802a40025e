package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/clientconf"
	"github.com/mcpcell/mcpcell/profiles"
)

// userEnv is a user's environment with a fresh home: mcpcell's folders
// where they are by default (no XDG_* names them), as a client started
// from the desktop has it.
func userEnv(home string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "HOME" || k == "XDG_CONFIG_HOME" || k == "XDG_STATE_HOME" || k == "XDG_CACHE_HOME" || k == anyBinaryEnv || k == selfEnv
	})
	return append(env, "HOME="+home, "GORACE="+quickExit())
}

// wrapAsUser runs `mcpcell wrap --yes --client CLIENT` (the client's own
// configuration file, found as wrap finds it) from "/", as a user of
// home; the configuration names mcpcell as self, a copy of this test
// binary named mcpcell, which runs the real CLI without test seams.
func wrapAsUser(t *testing.T, home, self, client string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "__mcpcell", "wrap", "--yes", "--client", client)
	cmd.Dir = "/"
	cmd.Env = append(userEnv(home), anyBinaryEnv+"=1", selfEnv+"="+self)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("wrap --client %s: %v\n%s", client, err, out)
	}
	return string(out)
}

// entryOf is the server entry name of a client's configuration.
func entryOf(t *testing.T, client clientconf.Client, config, name string) *clientconf.Entry {
	t.Helper()
	text, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	f, err := clientconf.Parse(client, config, text, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no server %s in %s:\n%s", name, config, text)
	return nil
}

// startWrapped starts the server entry name of a client's configuration
// as the client does: its command and args, its env over the user's
// environment, in "/".
func startWrapped(t *testing.T, home string, client clientconf.Client, config, name string) *session {
	t.Helper()
	e := entryOf(t, client, config, name)
	if len(e.Args) < 3 || e.Args[0] != "run" {
		t.Fatalf("%s in %s is not wrapped: %s %q", name, config, e.Command, e.Args)
	}
	cmd := exec.Command(e.Command, e.Args...)
	cmd.Dir = "/"
	cmd.Env = userEnv(home)
	for _, kv := range e.Env {
		cmd.Env = append(cmd.Env, kv.Key+"="+kv.Value)
	}
	return startSession(t, cmd)
}

const initializeParams = `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`

// profileOf is the profile a wrapped entry runs with (run --profile P).
func profileOf(t *testing.T, client clientconf.Client, config, name string) string {
	t.Helper()
	e := entryOf(t, client, config, name)
	if len(e.Args) < 3 || e.Args[1] != "--profile" {
		t.Fatalf("%s in %s is not wrapped: %s %q", name, config, e.Command, e.Args)
	}
	return e.Args[2]
}

// Issue 14, W2: wrap grants a node server's code root, the node_modules
// its imports resolve from, not the package's folder alone. The real
// server-everything, wrapped from a Claude Desktop configuration and
// started as Claude Desktop starts it, answers initialize and lists its
// tools: run by node with its file, and run by its bin link
// (node_modules/.bin/mcp-server-everything, #!/usr/bin/env node).
// Control: the grant wrap wrote before (the package's folder; the link
// alone) in the same profile: the server cannot import its dependencies
// (ERR_MODULE_NOT_FOUND, EACCES), and run names the node_modules to
// grant.
func TestWrapGrantsCodeRoot(t *testing.T) {
	nm := nodeModules(t)
	pkg := filepath.Join(nm, "@modelcontextprotocol/server-everything")
	server := filepath.Join(pkg, "dist/index.js")
	for _, c := range []struct {
		name    string
		command []string
		read    string // the read grant wrap writes
		old     string // the one it wrote before
		fails   string // what the server says with that one
	}{
		{"node FILE", []string{"node", server, "stdio"}, jsonString(nm), jsonString(pkg), "ERR_MODULE_NOT_FOUND"},
		{"bin link", []string{filepath.Join(nm, ".bin/mcp-server-everything"), "stdio"}, jsonString(filepath.Join(nm, ".bin/mcp-server-everything")) + ", " + jsonString(nm), jsonString(filepath.Join(nm, ".bin/mcp-server-everything")), "EACCES"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			home := filepath.Join(root, "home")
			config := filepath.Join(home, ".config/Claude/claude_desktop_config.json")
			args, _ := json.Marshal(c.command[1:])
			writeConfig(t, config, `{"mcpServers": {"everything": {"command": `+jsonString(c.command[0])+`, "args": `+string(args)+`}}}`)
			self := copyTestBinary(t, filepath.Join(root, "bin", "mcpcell"))
			out := wrapAsUser(t, home, self, "claude-desktop")
			profile := profileOf(t, clientconf.ClaudeDesktop, config, "everything")
			text, _ := os.ReadFile(profile)
			if want := "read = [" + c.read + "]\n"; !strings.Contains(string(text), want) {
				t.Fatalf("the profile lacks %q:\n%s\nwrap:\n%s", want, text, out)
			}
			s := startWrapped(t, home, clientconf.ClaudeDesktop, config, "everything")
			if m := s.call(0, "initialize", initializeParams); m["result"] == nil {
				t.Fatalf("initialize: %v\nstderr:\n%s", m, s.stderr.String())
			}
			s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			if names := listedNames(s.call(1, "tools/list", `{}`)); !slices.Contains(names, "echo") {
				t.Errorf("tools/list: %q, want server-everything's tools (echo…)", names)
			}
			s.in.Close()
			s.exited(15 * time.Second)

			t.Run("control: the old grant", func(t *testing.T) {
				old := strings.Replace(string(text), "read = ["+c.read+"]", "read = ["+c.old+"]", 1)
				if err := os.WriteFile(profile, []byte(old), 0o600); err != nil {
					t.Fatal(err)
				}
				trustProfile(t, userEnv(home), profile, c.command...)
				s := startWrapped(t, home, clientconf.ClaudeDesktop, config, "everything")
				m := s.call(0, "initialize", initializeParams)
				if _, msg := errorOf(m); !strings.Contains(msg, "exited before answering") {
					t.Fatalf("initialize with the old grant: %v", m)
				}
				s.exited(15 * time.Second)
				want := "it may not read the packages in " + nm + " that "
				if e := s.stderr.String(); !strings.Contains(e, c.fails) || !strings.Contains(e, want) || !strings.Contains(e, `add "`+nm+`" to [filesystem] read`) {
					t.Errorf("stderr lacks %s, %q and the grant:\n%s", c.fails, want, e)
				}
			})
		})
	}
}

// Issue 14, W2, the widening guard: a package.json in the home folder
// makes the home folder the nearest package root of a server file below
// it; neither wrap's grant nor run's hint is ever the home folder. wrap
// grants the file's folder and says why; run names that folder and says
// why not the home folder. Control: the same layout in a project folder
// (not a home) grants and names the project, the package's root.
func TestCodeRootNeverHome(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, "node on the PATH", err == nil)
	for _, c := range []struct {
		name, pkg string // the package.json's folder, under the test's folder
		grant     string // the grant, under the test's folder
		wide      string // the package's root when it is too wide: the home folder
	}{
		{"package.json in the home folder", "home", "home/srv", "home"},
		{"control: package.json in a project", "home/proj", "home/proj", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, _ := filepath.EvalSymlinks(t.TempDir())
			home := filepath.Join(root, "home")
			pkgDir := filepath.Join(root, c.pkg)
			server := filepath.Join(pkgDir, "srv", "server.js")
			writeConfig(t, filepath.Join(pkgDir, "package.json"), `{"name": "srv", "type": "module"}`)
			writeConfig(t, server, "console.log('never read')\n")
			grant := filepath.Join(root, c.grant)
			wide := ""
			if c.wide != "" {
				wide = filepath.Join(root, c.wide) + " is your home folder"
			}

			// wrap: the grant, and the note when it is narrower than the
			// package's root.
			config := filepath.Join(home, ".config/Claude/claude_desktop_config.json")
			writeConfig(t, config, `{"mcpServers": {"srv": {"command": "node", "args": [`+jsonString(server)+`]}}}`)
			cmd := exec.Command(os.Args[0], "__mcpcell", "wrap", "--dry-run", "--client", "claude-desktop")
			cmd.Env = append(userEnv(home), anyBinaryEnv+"=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("wrap: %v\n%s", err, out)
			}
			if want := "read = [" + jsonString(grant) + "]\n"; !strings.Contains(string(out), want) {
				t.Errorf("wrap's profile lacks %s:\n%s", want, out)
			}
			note := "note: args[0] " + server + ": the server's code: the profile grants only " + grant + " (" + wide + ": too wide to grant)"
			if strings.Contains(string(out), note) != (wide != "") || wide == "" && strings.Contains(string(out), "too wide") {
				t.Errorf("wrap's plan, want the note %v (%q):\n%s", wide != "", note, out)
			}

			// run: the server's code not granted; the hint names the grant.
			profile := filepath.Join(root, "cell", profiles.FileName)
			writeConfig(t, profile, "include = [\"default\"]\n")
			env := append(userEnv(home), "XDG_CONFIG_HOME="+filepath.Join(root, "xdg", "config"), "XDG_STATE_HOME="+filepath.Join(root, "xdg", "state"), "XDG_CACHE_HOME="+filepath.Join(root, "xdg", "cache"))
			trustProfile(t, env, profile, "node", server)
			run := exec.Command(os.Args[0], "__mcpcell", "run", "--profile", profile, "--", "node", server)
			run.Env = env
			run.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":` + initializeParams + "}\n")
			b, _ := run.CombinedOutput()
			hint := "mcpcell: hint: add " + jsonString(grant) + " to [filesystem] read in " + profile
			if wide != "" {
				hint += " (" + wide + ": too wide to grant)"
			}
			hint += ", then mcpcell trust"
			if !strings.Contains(string(b), "it may not read "+server+": no grant covers it") || !strings.Contains(string(b), hint) {
				t.Errorf("run's explanation lacks %q:\n%s", hint, b)
			}
		})
	}
}
