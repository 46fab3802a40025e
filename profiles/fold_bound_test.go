package profiles

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// matchKeyReference is the plain run of a key glob over a key: every
// token at every position, and every longer key of a set tried in turn.
// TestMatchKeyReference checks matchKey (live states, a trie, skips
// after a star) against it.
func matchKeyReference(g *keyGlob) func(key []rune) bool {
	n := len(g.toks)
	var multi func(t *keyTrie, prefix []rune, out *[]string)
	multi = func(t *keyTrie, prefix []rune, out *[]string) {
		if t.end {
			*out = append(*out, string(prefix))
		}
		for r, c := range t.next {
			multi(c, append(append([]rune{}, prefix...), r), out)
		}
	}
	longer := make([]map[rune][][]rune, n) // by token, by first character
	for i, tok := range g.toks {
		if !tok.star {
			var ms []string
			multi(&tok.set.multi, nil, &ms)
			longer[i] = map[rune][][]rune{}
			for _, m := range ms {
				mr := []rune(m)
				longer[i][mr[0]] = append(longer[i][mr[0]], mr)
			}
		}
	}
	return func(key []rune) bool {
		ring := make([][]bool, g.jump+1)
		for i := range ring {
			ring[i] = make([]bool, n+1)
		}
		ring[0][0] = true
		for p := 0; p <= len(key); p++ {
			cur := ring[p%len(ring)]
			for i := 0; i < n; i++ {
				if cur[i] && (g.toks[i].star || g.toks[i].set.empty) {
					cur[i+1] = true
				}
			}
			if p == len(key) {
				return cur[n]
			}
			for i := 0; i < n; i++ {
				if !cur[i] {
					continue
				}
				tok := g.toks[i]
				if tok.star {
					ring[(p+1)%len(ring)][i] = true
					continue
				}
				if tok.set.hasSingle(key[p]) {
					ring[(p+1)%len(ring)][i+1] = true
				}
				for _, mr := range longer[i][key[p]] {
					if len(mr) <= len(key)-p && string(key[p:p+len(mr)]) == string(mr) {
						ring[(p+len(mr))%len(ring)][i+1] = true
					}
				}
			}
			clear(cur)
		}
		return false
	}
}

func TestMatchKeyReference(t *testing.T) {
	globs := []string{"internal_*", "*secret*", "*_admin", "debug?", "debug_*_?", "*?", "?*", "*", "h?dden", "[!a]b", "*\u00df*", "a*b*c", "*\ufb01*", "??", "*[a-c]?x", "\ufdfa*", "*\u1100?"}
	alphabet := []string{"a", "b", "c", "x", "_", "s", "S", "\u00df", "ss", "\ufb01", "fi", "\ufdfa", "\u0635\u0644\u0649", "\uce20", "\u110e", "\u1173", "\uac00", "\u2171", "i", "I", "\u0131", "\u0130", "\u0301", "\u00ad", "debug_", "secret", "_admin", "internal_"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, g := range globs {
		kg, err := compileKeyGlob(g, false)
		if err != nil {
			t.Fatal(err)
		}
		ref := matchKeyReference(kg)
		for range 3000 {
			var b strings.Builder
			for range rng.IntN(12) {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			k, _ := nameKey(b.String())
			if got, want := kg.matchKey(k), ref(k); got != want {
				t.Errorf("glob %q, name %q (key %q): matchKey %v, the reference %v", g, b.String(), string(k), got, want)
			}
		}
	}
}

// A name longer than maxKeyed gets no key: every deny glob of its kind
// denies it and every [tools.args] key constrains it, as a call, a
// prompt, a completion reference and in a listing, where it is withheld
// with a note. The controls: at the bound the key decides (a name near a
// deny passes, the attack by key is denied), and without a deny of its
// kind a long name passes.
func TestLongNameDenied(t *testing.T) {
	pol := testPolicy(t, "[tools]\ndeny = [\"internal_*\"]\n[prompts]\ndeny = [\"internal_*\"]\n[resources]\ndeny = [\"test://internal/**\"]\n[tools.args.read_file]\npath = { within = [\"/proj\"] }\n")
	pad := func(s string, n int) string { return s + strings.Repeat("x", n-len(s)) }
	long, atBound := pad("external_", maxKeyed+1), pad("external_", maxKeyed)
	attack := pad("\u0131nternal_", maxKeyed) // dotless ı: internal_ to toUpperCase
	for _, c := range []struct {
		name   string
		denied bool
	}{{long, true}, {pad("\u0131nternal_", maxKeyed+1), true}, {atBound, false}, {attack, true}, {"external_x", false}} {
		tool := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, c.name))
		prompt := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":%q}}`, c.name))
		ref := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":%q},"argument":{"name":"a","value":""}}}`, c.name))
		for what, v := range map[string]jsonrpc.Verdict{"tools/call": tool, "prompts/get": prompt, "completion": ref} {
			if (v.Action == jsonrpc.Refuse) != c.denied {
				t.Errorf("%s of a name of %d bytes (%.12q…): %v %s, want refused %v", what, len(c.name), c.name, v.Action, v.Rule, c.denied)
			}
		}
		if c.denied && len(c.name) > maxKeyed && tool.Rule != pol.tools.tooLong {
			t.Errorf("rule %q, want %q", tool.Rule, pol.tools.tooLong)
		}
		list := reply(t, pol, &jsonrpc.Call{Method: "prompts/list"}, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":%q},{"name":"greeting"}]}}`, c.name))
		if shown := list.Frame == nil; shown == c.denied {
			t.Errorf("prompts/list with a name of %d bytes: shown %v", len(c.name), shown)
		}
		if note := fmt.Sprintf("withheld 1 of the server's prompts whose name is longer than %d bytes", maxKeyed); strings.Contains(list.Note, note) != (len(c.name) > maxKeyed) {
			t.Errorf("prompts/list with a name of %d bytes: note %q", len(c.name), list.Note)
		}
	}
	// Templates are keyed too; a long one is withheld with a note.
	tmpl := "test://other/" + strings.Repeat("y", maxKeyed) + "/{id}"
	v := reply(t, pol, &jsonrpc.Call{Method: "resources/templates/list"}, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":%q,"name":"a"},{"uriTemplate":"test://other/{id}","name":"b"}]}}`, tmpl))
	if v.Frame == nil || strings.Contains(string(v.Frame), "yyy") || !strings.Contains(v.Note, "withheld 1 of the server's resourceTemplates") {
		t.Errorf("a template of %d bytes: %.200s, note %q; want it withheld with a note", len(tmpl), v.Frame, v.Note)
	}
	if v := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":%q},"argument":{"name":"a","value":""}}}`, tmpl)); v.Action != jsonrpc.Refuse {
		t.Errorf("completion of a template of %d bytes: %v %s, want refused", len(tmpl), v.Action, v.Rule)
	}
	// Every [tools.args] key constrains a long name.
	args := func(name string) jsonrpc.Verdict {
		return message(t, testPolicy(t, "[tools.args.read_file]\npath = { within = [\"/proj\"] }\n"), jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":{"path":"/etc/shadow"}}}`, name))
	}
	if v := args(long); v.Action == jsonrpc.Forward || !strings.Contains(string(v.Result)+fmt.Sprint(v.Err), "within") {
		t.Errorf("a tool name of %d bytes with /etc/shadow: %v %s, want read_file's within constraint broken", len(long), v.Action, v.Rule)
	}
	if v := args(atBound); v.Action != jsonrpc.Forward {
		t.Errorf("control: a tool name of %d bytes: %v %s, want forwarded", len(atBound), v.Action, v.Rule)
	}
	// A long name matches no [tools.args] key for the note on keys that
	// match no listed tool: it is no sign the key is spelled right.
	open := testPolicy(t, "[prompts]\ndeny = [\"x\"]\n[tools.args.read_fiel]\npath = { within = [\"/proj\"] }\n")
	v = listPage(t, open, "", toolsPage([]string{long, "read_file"}, ""))
	if v.Frame != nil || !strings.Contains(v.Note, "tools.args.read_fiel") {
		t.Errorf("without a [tools] deny, a listing with a long name: %.200s, note %q; want it shown, and the misspelled key noted", v.Frame, v.Note)
	}
	if !callable(t, open, long) {
		t.Errorf("without a [tools] deny, a long listed name is not callable")
	}
}

// A name's key is computed once per decision, not once per deny glob:
// what deciding on a name allocates hardly grows with the number of deny
// globs (the key of 330 U+FDFA is 5,940 characters, 24 KB of runes).
func TestKeyOncePerName(t *testing.T) {
	name := "t" + strings.Repeat("\ufdfa", 330)
	alloc := func(globs int) uint64 {
		var deny []string
		for i := range globs {
			deny = append(deny, fmt.Sprintf("%q", fmt.Sprint("g", i, "_*")))
		}
		pol := testPolicy(t, "[tools]\ndeny = ["+strings.Join(deny, ", ")+"]\n")
		return allocBytes(func() {
			for range 10 {
				if ok, _ := pol.tools.decide(name); !ok {
					t.Fatalf("%d deny globs deny %q", globs, name)
				}
			}
		})
	}
	one, many := alloc(1), alloc(32)
	if many > 3*one {
		t.Errorf("deciding on a name of U+FDFA allocates %d bytes with 1 deny glob, %d with 32: the key is computed for each glob", one, many)
	}
}

// allocBytes is what f allocates on the heap, in bytes.
func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
