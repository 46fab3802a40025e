package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keysServer is a Node MCP server that looks tools up as a JavaScript
// server ignoring case and invisible characters does: NFKC, toUpperCase,
// and no format characters (zero-width spaces), on both sides. Its
// listing holds, besides its tools, one of them spelled with a thousand
// zero-width spaces. Listing v1 is public, long and hidden_tool, then b
// on page p2; every later listing is public, then c on page q2, and it
// still serves p2 (as servers whose cursors are offsets do). Every tool
// it runs leaves a file ran-TOOL in the folder argv[2] names.
const keysServer = `
import fs from 'node:fs';
import readline from 'node:readline';
const ran = process.argv[2];
const tools = ['hidden_tool', 'public', 'b', 'c'];
const key = (n) => String(n).normalize('NFKC').toUpperCase().replace(/\p{Cf}/gu, '');
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
const t = (name) => ({ name, inputSchema: { type: 'object' } });
let listings = 0;
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  const ok = (result) => send({ jsonrpc: '2.0', id: m.id, result });
  switch (m.method) {
  case 'initialize':
    return ok({ protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'keys', version: '1' } });
  case 'tools/list': {
    const c = m.params && m.params.cursor;
    if (!c) listings++;
    if (!c && listings === 1) return ok({ tools: [t('public'), t('public' + '\u200b'.repeat(1000)), t('hidden_tool')], nextCursor: 'p2' });
    if (!c) return ok({ tools: [t('public')], nextCursor: 'q2' });
    if (c === 'p2') return ok({ tools: [t('b')] });
    if (c === 'q2') return ok({ tools: [t('c')] });
    return ok({ tools: [] });
  }
  case 'tools/call': {
    const found = tools.find((x) => key(x) === key(m.params.name));
    if (!found) return send({ jsonrpc: '2.0', id: m.id, error: { code: -32602, message: 'Unknown tool' } });
    fs.writeFileSync(ran + '/ran-' + found, '');
    return ok({ content: [{ type: 'text', text: 'RAN TOOL ' + found }] });
  }
  }
  if (m.id !== undefined) send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
});
`

// startKeys starts keysServer in a cell under rules, initialized.
func startKeys(t *testing.T, rules string) (s *session, ran string) {
	t.Helper()
	nodeModules(t)
	script := filepath.Join(t.TempDir(), "keysserver.mjs")
	if err := os.WriteFile(script, []byte(keysServer), 0o644); err != nil {
		t.Fatal(err)
	}
	ran = t.TempDir()
	profile := writeProfile(t, grantRead(filepath.Dir(script))+fmt.Sprintf("write = [%q]\n", ran)+rules)
	s = startSession(t, cellCommand(t, profile, "node", script, ran))
	if r := s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`); r["result"] == nil {
		t.Fatalf("initialize: %v", r)
	}
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return s, ran
}

// listedNames are the tool names of a tools/list answer.
func listedNames(r map[string]any) []string {
	res, _ := r["result"].(map[string]any)
	tools, _ := res["tools"].([]any)
	var names []string
	for _, tl := range tools {
		name, _ := tl.(map[string]any)["name"].(string)
		names = append(names, name)
	}
	return names
}

// callText is the text of a tools/call answer, or its error's message.
func callText(s *session, id int, name string) string {
	r := s.call(id, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":{}}`, name))
	if code, msg := errorOf(r); code != 0 {
		return msg
	}
	b, _ := json.Marshal(r["result"])
	return string(b)
}

// A name longer than 1 KiB gets no key (a key can be 18 characters a
// character, and every listing and call asks for keys): every deny glob
// matches it. The attack: hidden_tool with a dotless ı and 400
// zero-width spaces, which the server reads as hidden_tool. The control,
// the same server and call without the deny, runs hidden_tool; under
// deny = ["hidden_*"] the call is unknown before and after the listing,
// the listing withholds the server's over-long spelling of public with a
// note, and public runs.
func TestAttackLongName(t *testing.T) {
	attack := "h\u0131dden_tool" + strings.Repeat("\u200b", 400)
	c, cran := startKeys(t, "")
	if got := callText(c, 1, attack); !strings.Contains(got, "RAN TOOL hidden_tool") {
		t.Fatalf("control: without the deny, the server ran %q for the long name, want hidden_tool", got)
	}
	if _, err := os.Stat(filepath.Join(cran, "ran-hidden_tool")); err != nil {
		t.Fatalf("control: the server left no trace of hidden_tool")
	}

	s, ran := startKeys(t, "[tools]\ndeny = [\"hidden_*\"]\n")
	if got := callText(s, 1, attack); got != "Unknown tool: "+attack {
		t.Errorf("before any listing, the long spelling of hidden_tool: %.80q, want Unknown tool", got)
	}
	names := listedNames(s.call(2, "tools/list", `{}`))
	if len(names) != 1 || names[0] != "public" {
		t.Errorf("the listing shows %d tools (%.80q), want only public", len(names), names)
	}
	if got := callText(s, 3, attack); got != "Unknown tool: "+attack {
		t.Errorf("after the listing, the long spelling of hidden_tool: %.80q, want Unknown tool", got)
	}
	if got := callText(s, 4, "public"); !strings.Contains(got, "RAN TOOL public") {
		t.Errorf("control: public: %q", got)
	}
	if _, err := os.Stat(filepath.Join(ran, "ran-hidden_tool")); err == nil {
		t.Errorf("the server ran hidden_tool")
	}
	finish(t, s)
	if !strings.Contains(s.stderr.String(), "withheld 1 of the server's tools whose name is longer than 1024 bytes") {
		t.Errorf("no note on the withheld long name on stderr:\n%s", s.stderr.String())
	}
}

// The review's stale cursor: listing v1 is public, then b on page p2;
// listing v2 is public, then c on q2, and b is unknown. The client asks
// the old cursor p2 again, alone or raced with a new listing: b was
// added to the current listing and ran. Now such a page's tools are
// withheld from the client, with a note, and b stays unknown. The
// controls: b runs while v1 is current, and c, of v2's own page, runs.
func TestAttackStaleCursor(t *testing.T) {
	// Unpinned: listing v2's new tool c would otherwise be withheld as
	// new since trusted (see pins_attack_linux_test.go).
	s, ran := startKeys(t, "[tools]\npin = false\n")
	s.call(1, "tools/list", `{}`)
	if names := listedNames(s.call(2, "tools/list", `{"cursor":"p2"}`)); len(names) != 1 || names[0] != "b" {
		t.Fatalf("control: v1's page p2 shows %q, want b", names)
	}
	if got := callText(s, 3, "b"); !strings.Contains(got, "RAN TOOL b") {
		t.Fatalf("control: b while v1 is current: %q", got)
	}
	os.Remove(filepath.Join(ran, "ran-b"))
	s.call(4, "tools/list", `{}`)
	s.call(5, "tools/list", `{"cursor":"q2"}`)
	if got := callText(s, 6, "b"); got != "Unknown tool: b" {
		t.Fatalf("control: after v2, b: %q, want Unknown tool", got)
	}
	// The old cursor alone.
	if names := listedNames(s.call(7, "tools/list", `{"cursor":"p2"}`)); len(names) != 0 {
		t.Errorf("the stale page p2 shows %q, want its tools withheld", names)
	}
	if got := callText(s, 8, "b"); got != "Unknown tool: b" {
		t.Errorf("after the stale page p2, b: %q, want Unknown tool", got)
	}
	// The old cursor sent just before a new listing, both in flight.
	s.send(`{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{"cursor":"p2"}}`)
	s.send(`{"jsonrpc":"2.0","id":10,"method":"tools/list","params":{}}`)
	s.reply("9")
	s.reply("10")
	s.call(11, "tools/list", `{"cursor":"q2"}`)
	if got := callText(s, 12, "b"); got != "Unknown tool: b" {
		t.Errorf("after p2 raced with a new listing, b: %q, want Unknown tool", got)
	}
	if got := callText(s, 13, "c"); !strings.Contains(got, "RAN TOOL c") {
		t.Errorf("control: c of the current listing: %q", got)
	}
	finish(t, s)
	if !strings.Contains(s.stderr.String(), "tools of a tools/list page asked for with a cursor the current listing did not give") {
		t.Errorf("no note on the stale page on stderr:\n%s", s.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(ran, "ran-b")); err == nil {
		t.Errorf("the server ran b after v2 dropped it")
	}
}
