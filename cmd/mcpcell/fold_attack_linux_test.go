package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// foldServer is a Node MCP server that looks tools and prompts up the
// way a JavaScript server folding case does: normalize("NFKC") and
// toUpperCase() on both sides, so that "ınternal_notes" (dotless ı),
// "read_ﬁle" (the ﬁ ligature) and "ＨＩＤＤＥＮ_tool" (full width) are its
// internal_notes, read_file and hidden_tool. Every tool it runs leaves a
// file ran-TOOL in the folder argv[2] names; read_file returns the file
// at arguments.path.
const foldServer = `
import fs from 'node:fs';
import readline from 'node:readline';
const ran = process.argv[2];
const tools = ['hidden_tool', 'public', 'read_file'], prompts = ['internal_notes', 'greeting'];
const key = (n) => String(n).normalize('NFKC').toUpperCase();
const find = (list, n) => list.find((x) => key(x) === key(n));
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  const ok = (result) => send({ jsonrpc: '2.0', id: m.id, result });
  const fail = (message) => send({ jsonrpc: '2.0', id: m.id, error: { code: -32602, message } });
  switch (m.method) {
  case 'initialize':
    return ok({ protocolVersion: m.params.protocolVersion, capabilities: { tools: {}, prompts: {} }, serverInfo: { name: 'fold', version: '1' } });
  case 'tools/list':
    return ok({ tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })) });
  case 'prompts/list':
    return ok({ prompts: prompts.map((name) => ({ name })) });
  case 'tools/call': {
    const t = find(tools, m.params.name);
    if (!t) return fail('Unknown tool');
    fs.writeFileSync(ran + '/ran-' + t, m.params.name);
    let text = 'RAN TOOL ' + t;
    if (t === 'read_file') {
      try { text = fs.readFileSync(m.params.arguments.path, 'utf8'); } catch (e) { text = 'READ FAILED ' + e.code; }
    }
    return ok({ content: [{ type: 'text', text }] });
  }
  case 'prompts/get': {
    const p = find(prompts, m.params.name);
    return p ? ok({ messages: [{ role: 'user', content: { type: 'text', text: 'SECRET PROMPT ' + p } }] }) : fail('Unknown prompt');
  }
  }
  if (m.id !== undefined) send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
});
`

// TestFoldAttack is the review's attack on deny and [tools.args] through
// a server that maps names (JavaScript's NFKC and toUpperCase), run
// through the real CLI in a cell. With [prompts] deny = ["internal_*"],
// [tools] deny = ["hidden_*"] and read_file's path within the project,
// the attacks (dotless ı, the ﬁ and ﬂ ligatures, full-width letters, the
// long s, ß for ss) get the hidden prompt back, run the hidden tool, or
// read a file outside the project through read_file. The control, the
// same server and calls under a profile without the rules, shows each
// attack reaching what it aims at; under the rules none does, before and
// after the listings, while the allowed calls go on.
func TestFoldAttack(t *testing.T) {
	nodeModules(t)
	script := filepath.Join(t.TempDir(), "foldserver.mjs")
	if err := os.WriteFile(script, []byte(foldServer), 0o644); err != nil {
		t.Fatal(err)
	}
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "shadow")
	os.WriteFile(secret, []byte("THE-SHADOW-FILE"), 0o644)
	// An attacker's spellings of the hidden names, each of which the
	// server reads as the hidden one.
	prompts := []string{"\u0131nternal_notes", "\uff29\uff2e\uff34\uff25\uff32\uff2e\uff21\uff2c_notes", "INTERNAL_NOTES"}
	tools := []string{"h\u0131dden_tool", "\uff48\uff49\uff44\uff44\uff45\uff4e_tool", "H\u0131dden_Tool", "HIDDEN_TOOL"}
	reads := []string{"read_\ufb01le", "READ_\ufb01LE", "\uff52\uff45\uff41\uff44_file", "READ_FILE"}

	start := func(rules string) (*session, string, string) {
		ran := t.TempDir()
		profile := writeProfile(t, grantRead(filepath.Dir(script), secretDir)+fmt.Sprintf("write = [%q]\n", ran)+rules)
		s := startSession(t, cellCommand(t, profile, "node", script, ran))
		if r := s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`); r["result"] == nil {
			t.Fatalf("initialize: %v", r)
		}
		s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		return s, ran, filepath.Dir(profile)
	}
	text := func(r map[string]any) string {
		b, _ := json.Marshal(r["result"])
		return string(b)
	}
	ranTool := func(ran, tool string) bool {
		_, err := os.Stat(filepath.Join(ran, "ran-"+tool))
		return err == nil
	}

	// The control: without the rules, every spelling reaches its target.
	c, cran, _ := start("")
	id := 10
	for _, p := range prompts {
		id++
		if r := c.call(id, "prompts/get", fmt.Sprintf(`{"name":%q}`, p)); !strings.Contains(text(r), "SECRET PROMPT internal_notes") {
			t.Errorf("control: prompts/get %q: %v; the server should read it as internal_notes", p, r)
		}
	}
	for _, tool := range tools {
		id++
		if r := c.call(id, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":{}}`, tool)); !strings.Contains(text(r), "RAN TOOL hidden_tool") {
			t.Errorf("control: tools/call %q: %v; the server should run hidden_tool", tool, r)
		}
	}
	for _, tool := range reads {
		id++
		if r := c.call(id, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":{"path":%q}}`, tool, secret)); !strings.Contains(text(r), "THE-SHADOW-FILE") {
			t.Errorf("control: tools/call %q of %s: %v; the server should read it", tool, secret, r)
		}
	}
	if !ranTool(cran, "hidden_tool") {
		t.Errorf("control: the server left no trace of hidden_tool")
	}

	s, ran, project := start(`[tools]
deny = ["hidden_*"]
[prompts]
deny = ["internal_*"]
[tools.args.read_file]
path = { within = ["${PROJECT}"] }
`)
	os.WriteFile(filepath.Join(project, "inside.txt"), []byte("INSIDE"), 0o644)
	attack := func(listed string) {
		for _, p := range prompts {
			id++
			r := s.call(id, "prompts/get", fmt.Sprintf(`{"name":%q}`, p))
			if code, msg := errorOf(r); code != -32602 || msg != "Unknown prompt: "+p || strings.Contains(text(r), "SECRET") {
				t.Errorf("%s: prompts/get %q: %v, want -32602 Unknown prompt", listed, p, r)
			}
		}
		for _, tool := range tools {
			id++
			r := s.call(id, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":{}}`, tool))
			if code, msg := errorOf(r); code != -32602 || msg != "Unknown tool: "+tool {
				t.Errorf("%s: tools/call %q: %v, want -32602 Unknown tool", listed, tool, r)
			}
		}
		for _, tool := range reads {
			id++
			r := s.call(id, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":{"path":%q}}`, tool, secret))
			res, _ := r["result"].(map[string]any)
			if strings.Contains(text(r), "THE-SHADOW-FILE") || res == nil && listed == "before any listing" || res != nil && (res["isError"] != true || !strings.Contains(text(r), "within")) {
				t.Errorf("%s: tools/call %q of %s: %v, want the within constraint broken", listed, tool, secret, r)
			}
			if listed != "before any listing" && res == nil {
				// After the listing, a name the server did not list is unknown.
				if code, _ := errorOf(r); code != -32602 {
					t.Errorf("%s: tools/call %q: %v", listed, tool, r)
				}
			}
		}
	}
	attack("before any listing")
	if r := s.call(1, "prompts/list", `{}`); strings.Contains(text(r), "internal") {
		t.Errorf("prompts/list shows internal_notes: %v", r)
	}
	if r := s.call(2, "tools/list", `{}`); strings.Contains(text(r), "hidden") {
		t.Errorf("tools/list shows hidden_tool: %v", r)
	}
	attack("after the listings")
	if ranTool(ran, "hidden_tool") {
		t.Errorf("the server ran hidden_tool")
	}
	// What the rules allow goes on.
	if r := s.call(3, "tools/call", `{"name":"public","arguments":{}}`); !strings.Contains(text(r), "RAN TOOL public") {
		t.Errorf("public: %v", r)
	}
	if r := s.call(4, "tools/call", fmt.Sprintf(`{"name":"read_file","arguments":{"path":%q}}`, filepath.Join(project, "inside.txt"))); !strings.Contains(text(r), "INSIDE") {
		t.Errorf("read_file inside the project: %v", r)
	}
	if r := s.call(5, "prompts/get", `{"name":"greeting"}`); !strings.Contains(text(r), "SECRET PROMPT greeting") {
		t.Errorf("greeting: %v", r)
	}
}
