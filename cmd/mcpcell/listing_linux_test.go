package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// maxListed is the most tool names one listing holds (profiles.maxListed).
const maxListed = 10000

// A server that lists fresh tool names on every tools/list and sends
// notifications/tools/list_changed after each answer, so that the client
// lists again: mcpcell kept every name ever listed (the review: 35 to 304
// MB over 60 listings of 20,000 names), and every one stayed callable.
// Now a new listing replaces the one before: a tool of the previous
// listing is unknown once a listing without it has come, and it never
// reaches the server; a listing past the cap shows the client the first
// maxListed tools, withholds the rest with a note, and a call to them is
// unknown. The control: the current listing's tools run.
func TestAttackFreshListings(t *testing.T) {
	// Unpinned: each listing's fresh names would otherwise be withheld
	// as new since trusted (pinning's own flood: TestSurfaceFloodBounded).
	profile := writeProfile(t, "[tools]\npin = false\n")
	// The fake server's own tools and maxListed fresh names: past the cap.
	s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver", fmt.Sprint("--fresh-tools=", maxListed)))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	list := func(id, round int) {
		t.Helper()
		r := s.call(id, "tools/list", `{}`)
		res, _ := r["result"].(map[string]any)
		tools, _ := res["tools"].([]any)
		shown := map[string]bool{}
		for _, tl := range tools {
			name, _ := tl.(map[string]any)["name"].(string)
			shown[name] = true
		}
		if len(tools) != maxListed || !shown[fmt.Sprintf("fresh%d_0", round)] || shown[fmt.Sprintf("fresh%d_%d", round, maxListed-1)] {
			t.Errorf("listing %d: the client got %d tools (fresh%d_0 %v, the last fresh one %v), want the first %d", round, len(tools), round, shown[fmt.Sprintf("fresh%d_0", round)], shown[fmt.Sprintf("fresh%d_%d", round, maxListed-1)], maxListed)
		}
	}
	call := func(id int, name string) string {
		t.Helper()
		r := s.call(id, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":{}}`, name))
		if code, msg := errorOf(r); code != 0 {
			return msg
		}
		return resultText(r)
	}
	list(1, 1)
	if got := call(2, "fresh1_0"); got != "ran fresh1_0" {
		t.Errorf("control: a tool of the current listing: %q", got)
	}
	last := fmt.Sprintf("fresh1_%d", maxListed-1)
	if got := call(3, last); got != "Unknown tool: "+last {
		t.Errorf("a tool past the cap: %q, want mcpcell's Unknown tool", got)
	}
	if !strings.Contains(s.stderr.String(), fmt.Sprintf("holds more than %d tools: mcpcell withheld", maxListed)) {
		t.Errorf("no note on the withheld tools on stderr:\n%s", s.stderr.String())
	}
	id := 10
	for round := 2; round <= 6; round++ {
		list(id, round)
		prev := fmt.Sprintf("fresh%d_0", round-1)
		if got := call(id+1, prev); got != "Unknown tool: "+prev {
			t.Errorf("after listing %d: a tool of listing %d: %q, want mcpcell's Unknown tool", round, round-1, got)
		}
		if got, cur := call(id+2, fmt.Sprintf("fresh%d_7", round)), fmt.Sprintf("fresh%d_7", round); got != "ran "+cur {
			t.Errorf("control: after listing %d, %s: %q", round, cur, got)
		}
		id += 10
	}
	if got := call(id, "echo"); got != "echo:{}" {
		t.Errorf("control: a tool of every listing: %q", got)
	}
	finish(t, s)
	unlisted, _ := find(tallyKinds(auditRecords(t, profile)), `^client-to-server\|request\|deny\|tools: not in the server's tools/list\|tools/call$`)
	if unlisted.events != 1+5 {
		t.Errorf("the audit log has %d calls refused as not listed, want %d", unlisted.events, 1+5)
	}
}
