package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/internal/clientconf"
	"github.com/mcpcell/mcpcell/internal/egress/egresstest"
)

// These tests reach the real npm registry, the one host outside this
// machine any test may reach: they are what issue 13 promised users, a
// server that `npx -y` downloads at each start, in a cell that reaches
// the registry and nothing else.

// everything is the command line client configurations start the
// reference server with.
var everything = []string{"npx", "-y", "@modelcontextprotocol/server-everything"}

// npxFailFast makes npm give up at the first refused connection instead
// of retrying for 70 s (research §5), so that a control is quick.
const npxFailFast = "[env]\nset = { npm_config_fetch_retries = \"0\" }\n"

// needRegistry skips (in CI: fails) where the npm registry does not
// answer this machine, and where npx is missing.
func needRegistry(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("npx")
	need(t, "npx on the PATH", err == nil)
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Head("https://registry.npmjs.org/")
	if err == nil {
		resp.Body.Close()
	}
	need(t, fmt.Sprintf("the npm registry, https://registry.npmjs.org (%v)", err), err == nil)
}

// Requirement (issue 13, 2): with a profile that includes "npm",
// `mcpcell run -- npx -y @modelcontextprotocol/server-everything`
// downloads the server into the cell's own, empty, npm cache from the
// real registry, through the relay, and runs it: it initializes and
// lists its tools; the audit log's egress records are all allowed
// connections to registry.npmjs.org:443. Controls: the same profile
// without "npm" cannot download, with no network at all and with the
// relay granting another host, whose refusal of the registry the audit
// log records.
func TestEgressNpxFromRegistry(t *testing.T) {
	needRegistry(t)
	t.Run("npm", func(t *testing.T) {
		project, home := npxProject(t, "include = [\"default\", \"npm\"]\n"+npxFailFast)
		s := startNpx(t, project, home, exec.Command(os.Args[0], append([]string{"__mcpcell", "run", "--"}, everything...)...))
		s.initializeEverything()
		s.end()
		// The download went to the cell's own cache, which was empty.
		got, _ := filepath.Glob(filepath.Join(home, ".cache", "mcpcell", "cells", "*", "npm", "_npx", "*", "node_modules", "@modelcontextprotocol", "server-everything", "package.json"))
		if len(got) != 1 {
			t.Errorf("server-everything is not in the cell's npm cache: %v", got)
		}
		s.onlyRegistry()
	})
	for _, c := range []struct{ name, profile string }{
		{"control: no npm, no network", "include = [\"default\", \"node\"]\n" + npxFailFast},
		{"control: no npm, the relay grants another host", "include = [\"default\", \"node\"]\n" + npxFailFast + "[network]\nhosts = [\"example.com:443\"]\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			project, home := npxProject(t, c.profile)
			s := startNpx(t, project, home, exec.Command(os.Args[0], append([]string{"__mcpcell", "run", "--"}, everything...)...))
			m := s.await(1, `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"npx-test","version":"1"}}`, "initialize")
			if code, _ := errorOf(m); code == 0 {
				t.Errorf("the server started without the registry: %v", m)
			}
			s.end()
			if !strings.Contains(s.stderr.String(), "npm error") {
				t.Errorf("npm did not fail:\n%s", s.stderr.String())
			}
			var refused bool
			for _, r := range s.records() {
				if !strings.HasPrefix(r.Method, "egress") {
					continue
				}
				if r.Decision == "allow" {
					t.Errorf("egress allowed without npm: %+v", r)
				}
				refused = refused || r.Subject == "registry.npmjs.org:443" || r.Subject == "registry.npmjs.org"
			}
			if strings.Contains(c.profile, "hosts") && !refused {
				t.Errorf("the audit log has no refusal of registry.npmjs.org")
			}
		})
	}
}

// Requirement (issue 13, 2): `mcpcell wrap` of a Claude Desktop
// configuration whose server is `npx -y
// @modelcontextprotocol/server-everything` writes a configuration that
// works: its command line, started as the client starts it, downloads
// and runs the server in a cell that reaches only the registry.
func TestEgressWrapNpx(t *testing.T) {
	needRegistry(t)
	root := t.TempDir()
	home := filepath.Join(root, "home")
	os.MkdirAll(home, 0o755)
	// wrap writes its own path into the configuration: a copy of the test
	// binary named mcpcell runs the real CLI there (TestMain).
	mcpcell := copyTestBinary(t, filepath.Join(root, "bin", "mcpcell"))
	config := filepath.Join(root, "claude_desktop_config.json")
	os.WriteFile(config, []byte(`{"mcpServers": {"everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]}}}`+"\n"), 0o600)
	env := append(os.Environ(), "HOME="+home,
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	// This test binary wraps, writing the copy's path (root, a temporary
	// folder, stands for where mcpcell is installed).
	wrap := exec.Command(os.Args[0], "__mcpcell", "wrap", "--yes", "--client", "claude-desktop", "--config", config)
	wrap.Env = append(env, selfEnv+"="+mcpcell, tempDirsEnv+"=")
	if out, err := wrap.CombinedOutput(); err != nil {
		t.Fatalf("wrap: %v\n%s", err, out)
	}
	text, _ := os.ReadFile(config)
	f, err := clientconf.Parse(clientconf.ClaudeDesktop, config, text, nil)
	if err != nil || len(f.Entries) != 1 {
		t.Fatalf("the wrapped configuration: %v\n%s", err, text)
	}
	e := f.Entries[0]
	if e.Command != mcpcell || !slices.Contains(e.Args, "--profile") || !slices.Equal(e.Args[len(e.Args)-len(everything):], everything) {
		t.Fatalf("wrapped command: %s %q", e.Command, e.Args)
	}
	prof, _ := os.ReadFile(e.Args[slices.Index(e.Args, "--profile")+1])
	if !strings.Contains(string(prof), `"npm"`) {
		t.Errorf("the written profile does not include npm:\n%s", prof)
	}

	// As Claude Desktop starts it: the command and args as written, its
	// env over the client's own.
	cmd := exec.Command(e.Command, e.Args...)
	cmd.Env = env
	for _, kv := range e.Env {
		cmd.Env = append(cmd.Env, kv.Key+"="+kv.Value)
	}
	s := startNpx(t, root, home, cmd)
	s.initializeEverything()
	s.end()
	s.onlyRegistry()
}

// npxProject is a project with the profile text as its .mcpcell.toml,
// and a fresh HOME, so that every cache is empty (a warm npm cache hides
// a refused network: research §5).
func npxProject(t *testing.T, profile string) (project, home string) {
	t.Helper()
	project, home = t.TempDir(), testHome(t)
	if err := os.WriteFile(filepath.Join(project, ".mcpcell.toml"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	mcpcellIn(t, project, home, nil, append([]string{"trust", "--yes", "--"}, everything...)...)
	return project, home
}

// npxSession is a session of a server npx downloads, with HOME and
// mcpcell's folders in home.
type npxSession struct {
	*session
	home string
}

// startNpx starts cmd (mcpcell run) in dir with HOME and mcpcell's
// folders in home.
func startNpx(t *testing.T, dir, home string, cmd *exec.Cmd) *npxSession {
	t.Helper()
	cmd.Dir = dir
	if cmd.Env == nil {
		cmd.Env = append(os.Environ(), "HOME="+home,
			"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"),
			"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
			"XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	}
	return &npxSession{startSession(t, cmd), home}
}

// await sends a request and waits for its response; a download may take
// longer than session.next waits.
func (s *npxSession) await(id int, params, method string) map[string]any {
	s.t.Helper()
	s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params))
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("mcpcell closed its output before answering %s; stderr:\n%s", method, s.stderr.String())
			}
			var m map[string]any
			if json.Unmarshal(l, &m) != nil {
				s.t.Fatalf("mcpcell wrote a non-JSON frame %q", l)
			}
			if b, _ := json.Marshal(m["id"]); string(b) == fmt.Sprint(id) && m["method"] == nil {
				return m
			}
		case <-deadline:
			s.t.Fatalf("no answer to %s in 3 minutes; stderr:\n%s", method, s.stderr.String())
		}
	}
}

// initializeEverything initializes server-everything and lists its
// tools.
func (s *npxSession) initializeEverything() {
	s.t.Helper()
	m := s.await(1, `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"npx-test","version":"1"}}`, "initialize")
	result, _ := m["result"].(map[string]any)
	info, _ := result["serverInfo"].(map[string]any)
	if name, _ := info["name"].(string); !strings.Contains(name, "everything") {
		s.t.Fatalf("initialize: %v", m)
	}
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	m = s.await(2, `{}`, "tools/list")
	result, _ = m["result"].(map[string]any)
	tools, _ := result["tools"].([]any)
	var names []string
	for _, tool := range tools {
		name, _ := tool.(map[string]any)["name"].(string)
		names = append(names, name)
	}
	if !slices.Contains(names, "echo") {
		s.t.Fatalf("tools/list has no echo: %v", m)
	}
}

// end closes mcpcell's input and waits for it to exit, which writes the
// relay's records (one per connection, when it closes).
func (s *npxSession) end() {
	s.t.Helper()
	s.in.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("mcpcell did not exit in 30 s after its input closed")
	}
}

// records is the session's audit log.
func (s *npxSession) records() []audit.Record {
	s.t.Helper()
	var recs []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(readAudit(s.t, s.home)), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			s.t.Fatalf("audit record %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// onlyRegistry checks that the audit log's egress records are allowed
// connections to registry.npmjs.org:443, at least one.
func (s *npxSession) onlyRegistry() {
	s.t.Helper()
	n := 0
	for _, r := range s.records() {
		if !strings.HasPrefix(r.Method, "egress") {
			continue
		}
		n++
		if r.Subject != "registry.npmjs.org:443" || r.Decision != "allow" {
			s.t.Errorf("egress beyond the registry: %s %s %s (%s)", r.Method, r.Subject, r.Decision, r.Note)
		}
	}
	if n == 0 {
		s.t.Errorf("the audit log has no egress record, so the download did not go through the relay")
	}
}

// Requirement (issue 13, design (b)): in a cell built from the presets
// (include = ["default"]) with [network] hosts, a client that ignores the
// proxy variables (Node 20's fetch) reaches a granted name the
// transparent way: its resolver reads /etc/hosts (localhost) and
// /etc/resolv.conf, which points it at the stub (any other name). It
// found that no preset and nothing in the cell granted those files, so
// every name failed to resolve (EAI_AGAIN) and only the proxy worked.
// Control: the same fetch with the files granted by the profile itself.
func TestEgressResolverFilesInDefaultCell(t *testing.T) {
	systemTool(t, "/usr/bin/node")
	srv := egresstest.NewHTTP(t)
	port := srv.Addr.Port()
	dns := egresstest.NewDNS(t, map[string][]netip.Addr{"api.example.test": {netip.MustParseAddr("203.0.113.7")}})
	seam := fmt.Sprintf("%s=dns=%s route=203.0.113.7:%d>%s route=127.0.0.1:%d>%s", egressEnv, dns.Addr, port, srv.Addr, port, srv.Addr)
	// Node 20's fetch ignores HTTPS_PROXY and NODE_USE_ENV_PROXY: the
	// transparent way, through getaddrinfo.
	const js = `fetch(process.argv[1]).then(r => r.text()).then(t => console.error("BODY: " + t), e => console.error("FAILED: " + (e.cause ? e.cause.code : "") + " " + e.message))`
	for _, c := range []struct{ name, host, grant string }{
		{"localhost, from /etc/hosts", "localhost", ""},
		{"a name the stub answers", "api.example.test", ""},
		{"control: the profile grants the files", "api.example.test", "[filesystem]\nread = [\"/etc/hosts\", \"/etc/resolv.conf\", \"/etc/nsswitch.conf\"]\noptional = [\"/etc/nsswitch.conf\"]\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			project, home := t.TempDir(), testHome(t)
			profile := fmt.Sprintf("include = [\"default\"]\n%s[network]\nhosts = [\"%s:%d\"]\n", c.grant, c.host, port)
			os.WriteFile(filepath.Join(project, ".mcpcell.toml"), []byte(profile), 0o600)
			before := srv.Conns()
			url := fmt.Sprintf("http://%s:%d/", c.host, port)
			stderr, _ := cellRun(t, project, home, []string{seam}, "--", "node", "-e", js, url)
			if want := fmt.Sprintf("BODY: hello from %s:%d", c.host, port); !strings.Contains(stderr, want) || srv.Conns() == before {
				t.Errorf("Node's fetch of %s did not arrive (server connections %d → %d):\n%s", url, before, srv.Conns(), stderr)
			}
		})
	}
}
