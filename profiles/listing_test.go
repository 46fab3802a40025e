package profiles

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// listPage asks pol about a tools/list request with cursor ("" for none,
// or a JSON literal such as null) and then about the server's result.
func listPage(t *testing.T, pol *Policy, cursor, result string) jsonrpc.Verdict {
	t.Helper()
	params := `{}`
	switch {
	case cursor == "":
	case strings.HasPrefix(cursor, "null") || strings.HasPrefix(cursor, `"`) || strings.HasPrefix(cursor, "{") || cursor == "7":
		params = `{"cursor":` + cursor + `}`
	default:
		params = `{"cursor":"` + cursor + `"}`
	}
	v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":`+params+`}`)
	if v.Action != jsonrpc.Forward {
		t.Fatalf("tools/list %s: %+v", params, v)
	}
	return reply(t, pol, &jsonrpc.Call{Method: "tools/list", State: v.State}, `{"jsonrpc":"2.0","id":1,"result":`+result+`}`)
}

// toolsPage is a tools/list result listing names, with next as its
// nextCursor member (a JSON literal; "" for none).
func toolsPage(names []string, next string) string {
	var b strings.Builder
	b.WriteString(`{"tools":[`)
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":%q,"inputSchema":{"type":"object"}}`, n)
	}
	b.WriteString(`]`)
	if next != "" {
		b.WriteString(`,"nextCursor":` + next)
	}
	b.WriteString(`}`)
	return b.String()
}

// listCall is a tools/list without a cursor, as the policy keeps it: the
// first page of a new listing.
func listCall(pol *Policy) *jsonrpc.Call {
	_, gen := pol.listPage(nil)
	return &jsonrpc.Call{Method: "tools/list", State: callState{list: gen}}
}

// callable reports whether pol lets a call of tool name go to the server.
func callable(t *testing.T, pol *Policy, name string) bool {
	t.Helper()
	v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":`+string(jsontext.Quote(name))+`,"arguments":{}}}`)
	if v.Action == jsonrpc.Refuse && (v.Err.Code != jsonrpc.CodeInvalidParams || v.Err.Message != "Unknown tool: "+name) {
		t.Fatalf("call of %s: %+v, want it passed or unknown", name, v)
	}
	return v.Action == jsonrpc.Forward
}

// fresh is n tool names no listing had before: round r of a server that
// lists new names every time, long as in the review's attack.
func fresh(r, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("t%d_%d_%s", r, i, strings.Repeat("x", 180))
	}
	return names
}

// A server that lists fresh names on every tools/list (and asks for
// another listing with list_changed after each) grew mcpcell's memory
// without bound: every name ever listed was kept (the review: 35 to 304
// MB over 60 listings of 20,000 names). The listing now holds the names
// of the current listing only, at most maxListed of them. The control:
// the first listing is kept whole up to the cap, so the bound is the cap
// and not a store that keeps nothing.
func TestListingBounded(t *testing.T) {
	pol := testPolicy(t, "")
	first := fresh(0, maxListed/2)
	listPage(t, pol, "", toolsPage(first, ""))
	if got := pol.listed.size(); got != len(first) {
		t.Fatalf("control: the first listing holds %d names, want %d", got, len(first))
	}
	for r := 1; r <= 12; r++ {
		names := fresh(r, maxListed+2000)
		v := listPage(t, pol, "", toolsPage(names, ""))
		if got := pol.listed.size(); got > maxListed {
			t.Fatalf("after listing %d of %d fresh names: mcpcell holds %d names, want at most %d", r, len(names), got, maxListed)
		}
		if v.Action != jsonrpc.Forward || !strings.Contains(v.Note, fmt.Sprintf("withheld %d of this page", 2000)) {
			t.Fatalf("listing %d: %v, note %q; want a note on the withheld names", r, v.Action, v.Note)
		}
		if callable(t, pol, fresh(r-1, 1)[0]) {
			t.Fatalf("after listing %d: a name of listing %d is still callable", r, r-1)
		}
	}
	// Paged listings: the pages of one listing add up to the cap, no more.
	pol = testPolicy(t, "")
	listPage(t, pol, "", toolsPage(fresh(0, 6000), `"p1"`))
	for page := 1; page <= 5; page++ {
		listPage(t, pol, fmt.Sprint("p", page), toolsPage(fresh(page, 6000), fmt.Sprintf(`"p%d"`, page+1)))
		if got := pol.listed.size(); got > 2*maxListed {
			t.Fatalf("after page %d: mcpcell holds %d names, want at most %d", page, got, 2*maxListed)
		}
	}
	if got := len(pol.listed.current); got != maxListed {
		t.Errorf("a paged listing of 36,000 names holds %d, want the cap %d", got, maxListed)
	}
}

// The tools a client may call are those of the current listing: a
// tools/list without a cursor starts a new one, pages with a cursor add
// to it, and until a new listing has its last page the last complete one
// stays callable. Beyond maxListed names a listing withholds the rest
// from the client, with a note, and a call to them is unknown.
func TestListingCurrent(t *testing.T) {
	pol := testPolicy(t, "[tools]\ndeny = [\"hidden_*\"]\n")
	if !callable(t, pol, "anything") {
		t.Errorf("before any listing: a call is refused, want it passed to the server")
	}
	steps := []struct {
		cursor, result string
		yes, no        []string
	}{
		{"", toolsPage([]string{"a", "b", "hidden_x"}, ""), []string{"a", "b"}, []string{"c", "hidden_x"}},
		// A new listing without a: a is unknown.
		{"", toolsPage([]string{"b", "c"}, ""), []string{"b", "c"}, []string{"a"}},
		// The first page of a new listing: the last complete one stays
		// until its last page.
		{"", toolsPage([]string{"d"}, `"p2"`), []string{"b", "c", "d"}, []string{"a", "e"}},
		{"p2", toolsPage([]string{"e"}, `"p3"`), []string{"b", "c", "d", "e"}, []string{"a"}},
		{"p3", toolsPage([]string{"f"}, ""), []string{"d", "e", "f"}, []string{"b", "c"}},
		// An empty or null nextCursor ends a listing, as clients stop there.
		{"", toolsPage([]string{"g"}, `""`), []string{"g"}, []string{"d", "e", "f"}},
		{"", toolsPage([]string{"h"}, `null`), []string{"h"}, []string{"g"}},
		// A cursor a server reads as none starts a new listing.
		{`""`, toolsPage([]string{"i"}, ""), []string{"i"}, []string{"h"}},
		{`null`, toolsPage([]string{"j"}, ""), []string{"j"}, []string{"i"}},
		{"7", toolsPage([]string{"k"}, ""), []string{"k"}, []string{"j"}},
		// A page with a cursor the listing did not give adds nothing.
		{"more", toolsPage([]string{"l"}, ""), []string{"k"}, []string{"j", "l"}},
	}
	for i, s := range steps {
		if v := listPage(t, pol, s.cursor, s.result); v.Action != jsonrpc.Forward {
			t.Fatalf("step %d: %+v", i, v)
		}
		for _, n := range s.yes {
			if !callable(t, pol, n) {
				t.Errorf("step %d (cursor %s, %s): %s is unknown, want it callable", i, s.cursor, s.result, n)
			}
		}
		for _, n := range s.no {
			if callable(t, pol, n) {
				t.Errorf("step %d (cursor %s, %s): %s is callable, want it unknown", i, s.cursor, s.result, n)
			}
		}
	}

	// The cap: names the profile hides and repeats do not count; the
	// names past it are withheld from the client and unknown.
	names := make([]string, 0, maxListed+20)
	for i := range maxListed + 5 {
		names = append(names, fmt.Sprintf("tool%d", i))
		if i < 10 {
			names = append(names, "hidden_"+fmt.Sprint(i), "tool0")
		}
	}
	v := listPage(t, pol, "", toolsPage(names, `"next"`))
	m, err := jsonrpc.Parse(v.Frame)
	if v.Action != jsonrpc.Forward || err != nil {
		t.Fatalf("a listing past the cap: %+v, want it passed with the names past the cap withheld", v)
	}
	elems, _ := jsontext.Elements(jsontext.Lookup(m.Result, "tools"))
	last, _ := jsontext.String(jsontext.Lookup(elems[len(elems)-1], "name"))
	if len(elems) != maxListed+10 || last != fmt.Sprint("tool", maxListed-1) {
		t.Errorf("the client got %d tools, the last %s; want %d (with tool0's repeats), the last tool%d", len(elems), last, maxListed+10, maxListed-1)
	}
	if want := fmt.Sprintf("holds more than %d tools: mcpcell withheld 5 of this page", maxListed); !strings.Contains(v.Note, want) {
		t.Errorf("note %q, want it to say %q", v.Note, want)
	}
	if !strings.Contains(v.Rule, fmt.Sprintf("%d of %d shown", maxListed+10, len(names))) {
		t.Errorf("rule %q", v.Rule)
	}
	for _, c := range []struct {
		name string
		want bool
	}{{"tool0", true}, {fmt.Sprint("tool", maxListed-1), true}, {fmt.Sprint("tool", maxListed), false}, {fmt.Sprint("tool", maxListed+4), false}, {"hidden_1", false}} {
		if got := callable(t, pol, c.name); got != c.want {
			t.Errorf("after a listing past the cap: %s callable %v, want %v", c.name, got, c.want)
		}
	}
	// Its next page: a name already listed passes, a new one is withheld.
	v = listPage(t, pol, "next", toolsPage([]string{"tool1", "late"}, ""))
	if m, _ := jsonrpc.Parse(v.Frame); v.Frame == nil || strings.Contains(string(m.Result), "late") || !strings.Contains(string(m.Result), "tool1") || !strings.Contains(v.Note, "withheld 1 of this page") {
		t.Errorf("the page after the cap: %s %+v, want tool1 shown, late withheld", v.Frame, v)
	}
	if callable(t, pol, "late") {
		t.Errorf("a name past the cap is callable")
	}
	// A listing under the cap again: every name, no note.
	if v := listPage(t, pol, "", toolsPage([]string{"a", "late"}, "")); v.Frame != nil || v.Note != "" || !callable(t, pol, "late") || callable(t, pol, "tool0") {
		t.Errorf("a small listing after the cap: %+v", v)
	}
}

// The withheld-elicitation store was keyed by a result's requestState
// (as long as a frame) and the input request names it withholds, 1024
// entries of any size: a server answering every call with a long state
// and many names grew it to gigabytes. Now keys are hashes, and the
// names are bounded in all; a result that withholds more than the bound
// is refused. The control: an answer kept under a long state still
// reaches the retry.
func TestCannedBounded(t *testing.T) {
	pol := testPolicy(t, "[client]\nelicitation = false\n")
	inputs := func(prefix string, n, size int) string {
		var b strings.Builder
		b.WriteByte('{')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			name := fmt.Sprintf("%s%d_%s", prefix, i, strings.Repeat("q", size))
			fmt.Fprintf(&b, `%q:{"method":"elicitation/create","params":{"message":"m","requestedSchema":{"type":"object"}}}`, name)
		}
		b.WriteByte('}')
		return b.String()
	}
	state := strings.Repeat("S", 1<<20)
	for i := range 40 {
		st := fmt.Sprint(i, state)
		frame := `{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","inputRequests":` + inputs("e", 50, 1000) + `,"requestState":"` + st + `"}}`
		if v := reply(t, pol, &jsonrpc.Call{Method: "tools/call", Subject: "t"}, frame); v.Action != jsonrpc.Forward || v.Frame == nil {
			t.Fatalf("result %d: %+v, want the elicitations withheld", i, v)
		}
		kept := 0
		for _, names := range pol.canned {
			for _, n := range names {
				kept += len(n)
			}
		}
		if len(pol.canned) > maxCanned || kept > maxCannedBytes || pol.cannedBytes > maxCannedBytes {
			t.Fatalf("after %d results: %d entries, %d bytes of names (counted %d), want at most %d and %d", i+1, len(pol.canned), kept, pol.cannedBytes, maxCanned, maxCannedBytes)
		}
	}
	// Control: the retry with the last (long) state gets mcpcell's
	// declines, and only once.
	retry := func() []byte {
		st := fmt.Sprint(39, state)
		v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"t","arguments":{},"requestState":"`+st+`"}}`)
		if v.Action != jsonrpc.Forward {
			t.Fatalf("retry: %+v", v)
		}
		return v.Frame
	}
	if f := retry(); !strings.Contains(string(f), `"e49_`) || strings.Count(string(f), `{"action":"decline"}`) != 50 {
		t.Errorf("the retry carries %d declines, want 50", strings.Count(string(f), `{"action":"decline"}`))
	}
	if f := retry(); f != nil && strings.Contains(string(f), "decline") {
		t.Errorf("a second retry carries the declines again")
	}
	// More names in one result than the store keeps: refused.
	frame := `{"jsonrpc":"2.0","id":1,"result":{"inputRequests":` + inputs("e", 2000, 600) + `,"requestState":"s"}}`
	if v := reply(t, pol, &jsonrpc.Call{Method: "tools/call", Subject: "t"}, frame); v.Action != jsonrpc.Refuse || v.Err.Code != jsonrpc.CodeInternalError || v.Rule != "client.elicitation = false" {
		t.Errorf("a result withholding %d bytes of names: %v %s, want it refused", 2000*600, v.Action, v.Rule)
	}
}

// The review's attack: listing v1 is a, then b on page p2; listing v2
// (a, then c) drops b. A page asked for with the old cursor p2, alone
// after v2 or raced with it, added b to the current listing, and b ran.
// Now only a cursor the current listing gave adds to it: every other
// page's tools are withheld from the client, with a note, and unknown
// to a call. The controls: the pages of the current listing, asked in
// order, add their tools; and a page of v1 asked before v2's first page
// came adds to v1 while v1 is current.
func TestListingStaleCursor(t *testing.T) {
	pol := testPolicy(t, "")
	ask := func(cursor string) jsonrpc.Verdict {
		t.Helper()
		params := `{}`
		if cursor != "" {
			params = `{"cursor":"` + cursor + `"}`
		}
		v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":`+params+`}`)
		if v.Action != jsonrpc.Forward {
			t.Fatalf("tools/list %s: %+v", params, v)
		}
		return v
	}
	answer := func(asked jsonrpc.Verdict, names []string, next string) jsonrpc.Verdict {
		t.Helper()
		return reply(t, pol, &jsonrpc.Call{Method: "tools/list", State: asked.State}, `{"jsonrpc":"2.0","id":1,"result":`+toolsPage(names, next)+`}`)
	}
	shown := func(v jsonrpc.Verdict, name string) bool {
		frame := v.Frame
		if frame == nil {
			return true // passed as the server sent it
		}
		return strings.Contains(string(frame), `"name":"`+name+`"`)
	}
	v1 := func() {
		answer(ask(""), []string{"a"}, `"p2"`)
		if v := answer(ask("p2"), []string{"b"}, ""); !shown(v, "b") || !callable(t, pol, "b") {
			t.Fatalf("control: v1's page p2: b shown %v, callable %v", shown(v, "b"), callable(t, pol, "b"))
		}
	}
	v2 := func() {
		answer(ask(""), []string{"a"}, `"q2"`)
		if v := answer(ask("q2"), []string{"c"}, ""); !shown(v, "c") {
			t.Fatalf("control: v2's page q2 withholds c: %+v", v)
		}
	}
	withheld := func(what string, v jsonrpc.Verdict) {
		t.Helper()
		if v.Action != jsonrpc.Forward || shown(v, "b") || !strings.Contains(v.Note, "tools of a tools/list page") {
			t.Errorf("%s: %v, b shown %v, note %q; want b withheld with a note", what, v.Action, shown(v, "b"), v.Note)
		}
	}
	stale := func(what string, v jsonrpc.Verdict) {
		t.Helper()
		withheld(what, v)
		if callable(t, pol, "b") {
			t.Errorf("%s: b, which the current listing dropped, is callable", what)
		}
		if !callable(t, pol, "a") || !callable(t, pol, "c") {
			t.Errorf("%s: the current listing's a and c are not callable", what)
		}
	}
	v1()
	v2()
	if callable(t, pol, "b") {
		t.Fatalf("control: after v2, b is callable")
	}
	// The old cursor, alone.
	stale("the old cursor p2 after v2", answer(ask("p2"), []string{"b"}, ""))
	// A cursor the server never gave, and one of v2's own pages asked
	// again (the last it gave) still counts.
	stale("a guessed cursor", answer(ask("zz"), []string{"b"}, ""))
	// The old cursor asked before v2's first page, answered after it.
	v1()
	old := ask("p2")
	first := ask("")
	answer(first, []string{"a"}, `"q2"`)
	withheld("p2 asked before v2's first page, answered after it", answer(old, []string{"b"}, ""))
	answer(ask("q2"), []string{"c"}, "")
	stale("p2 asked before v2's first page, answered after it, once v2 ends", jsonrpc.Verdict{Note: "tools of a tools/list page", Frame: []byte("{}")})
	// Two listings at once, the older first page answered last.
	v1()
	older, newer := ask(""), ask("")
	answer(newer, []string{"a", "c"}, "")
	stale("v1's first page, answered after a newer listing's", answer(older, []string{"b"}, `"p2"`))
	stale("v1's cursor from that stale page", answer(ask("p2"), []string{"b"}, ""))
	// A stale page that has no nextCursor ends no listing: the last
	// complete one stays while the current has pages to come.
	v1()
	answer(ask(""), []string{"a"}, `"q2"`)
	answer(ask("p2"), []string{"b"}, "")
	if !callable(t, pol, "b") {
		t.Errorf("a stale last page ended the current listing: v1's b, of the last complete listing, is unknown before v2 ends")
	}
	answer(ask("q2"), []string{"c"}, "")
	if callable(t, pol, "b") {
		t.Errorf("after v2 ends, b is callable")
	}
	// The cursors a listing gave are kept, at most maxCursors of them:
	// a page asked again with the listing's own cursor adds to it.
	answer(ask(""), []string{"a"}, `"r1"`)
	for i := 1; i <= maxCursors+3; i++ {
		answer(ask(fmt.Sprint("r", i)), []string{fmt.Sprint("t", i)}, fmt.Sprintf(`"r%d"`, i+1))
	}
	if len(pol.listed.cursors) != maxCursors {
		t.Errorf("mcpcell keeps %d cursors of a listing, want %d", len(pol.listed.cursors), maxCursors)
	}
	if v := answer(ask(fmt.Sprint("r", maxCursors+3)), []string{"again"}, ""); !shown(v, "again") || !callable(t, pol, "again") {
		t.Errorf("a page asked again with the listing's last cursor: withheld")
	}
	if v := answer(ask("r1"), []string{"b"}, ""); shown(v, "b") {
		t.Errorf("a cursor older than the %d kept still adds to the listing", maxCursors)
	}
	// A client that knows the cursor asks for the second page before the
	// first has come: the page counts once the listing has given it.
	first, second := ask(""), ask("q2")
	answer(first, []string{"a"}, `"q2"`)
	if v := answer(second, []string{"c"}, ""); !shown(v, "c") || !callable(t, pol, "c") || callable(t, pol, "b") {
		t.Errorf("control: a pipelined second page: c shown %v, callable %v; b callable %v", shown(v, "c"), callable(t, pol, "c"), callable(t, pol, "b"))
	}
	// Before any listing every name may be called; a stale page ends that.
	fresh := testPolicy(t, "")
	if !callable(t, fresh, "b") {
		t.Fatalf("control: before any listing, b is not callable")
	}
	pol = fresh
	withheld("a page with a cursor before any listing", answer(ask("p2"), []string{"b"}, ""))
	if callable(t, pol, "b") {
		t.Errorf("a page with a cursor before any listing: b is callable")
	}
}
