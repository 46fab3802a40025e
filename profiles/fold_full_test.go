package profiles

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// nameMappings are the mappings a server may apply to a name before it
// looks it up: simple case mappings rune by rune (Go's ToUpper, ToLower,
// EqualFold's orbits; Java's equalsIgnoreCase, .NET's OrdinalIgnoreCase),
// full case mappings in the root, Turkish, Azeri, Lithuanian and
// Dutch locales (JavaScript, Python, Java, Rust, ICU), case folding
// (Python's casefold), and the four Unicode normalisation forms.
func nameMappings() map[string]func(string) string {
	simple := func(f func(rune) rune) func(string) string {
		return func(s string) string {
			out := []rune(s)
			for i, r := range out {
				out[i] = f(r)
			}
			return string(out)
		}
	}
	m := map[string]func(string) string{
		"ToUpper": simple(unicode.ToUpper), "ToLower": simple(unicode.ToLower), "ToTitle": simple(unicode.ToTitle),
		"SimpleFold": simple(unicode.SimpleFold),
		"NFC":        norm.NFC.String, "NFD": norm.NFD.String, "NFKC": norm.NFKC.String, "NFKD": norm.NFKD.String,
		"Fold": func(s string) string { return cases.Fold().String(s) },
	}
	for _, tag := range []string{"und", "tr", "az", "lt", "nl"} {
		l := language.MustParse(tag)
		m["Upper-"+tag] = func(s string) string { return cases.Upper(l).String(s) }
		m["Lower-"+tag] = func(s string) string { return cases.Lower(l).String(s) }
		m["Title-"+tag] = func(s string) string { return cases.Title(l).String(s) }
	}
	return m
}

// TestNameKeyStable checks, for every character Unicode 15.0 assigns,
// that each mapping a server may apply keeps its key, and that the table
// built from the characters mayMap picks holds the key of every other.
func TestNameKeyStable(t *testing.T) {
	m := newMapper()
	maps := nameMappings()
	bad := 0
	for r := rune(0); r <= unicode.MaxRune && bad < 20; r++ {
		if !assigned(r) || unicode.Is(unicode.Cs, r) {
			continue
		}
		s := string(r)
		k, ok := nameKey(s)
		if !ok {
			t.Fatalf("%U: no key", r)
		}
		if want := m.key(s); string(k) != want {
			t.Errorf("%U: table key %q, computed %q", r, string(k), want)
			bad++
		}
		for name, f := range maps {
			fk, ok := nameKey(f(s))
			if !ok || string(fk) != string(k) {
				t.Errorf("%U %q: key %q, but %s makes %q, key %q", r, s, string(k), name, f(s), string(fk))
				bad++
			}
		}
		if kk, _ := nameKey(string(k)); string(kk) != string(k) {
			t.Errorf("%U: key %q keys to %q", r, string(k), string(kk))
			bad++
		}
	}
}

// FuzzNameKey checks that every mapping a server may apply keeps the key
// of a whole name, where mappings look at context: the final sigma,
// Turkish I with a combining dot, Lithuanian i before accents, marks that
// normalisation reorders or composes.
func FuzzNameKey(f *testing.F) {
	for _, s := range []string{"ΑΣ", "ΑΣΑ", "I\u0307x", "i\u0307\u0300", "Ì", "a\u0323\u0307", "a\u0307\u0323", "ᄀ\u1161\u11a8", "ᾳ\u0301", "ǅ", "ﬃ", "\u0130\u0307", "σς", "ß\u0345"} {
		f.Add(s)
	}
	maps := nameMappings()
	f.Fuzz(func(t *testing.T, s string) {
		// A name is a decoded JSON string, so valid UTF-8. (x/text's
		// Lithuanian upper-casing, a mapping this test applies, panics
		// on "i\u0307" followed by a cut sequence: testdata/fuzz.)
		if !utf8.ValidString(s) {
			return
		}
		k, ok := nameKey(s)
		if !ok {
			return
		}
		for name, m := range maps {
			if fk, _ := nameKey(m(s)); string(fk) != string(k) {
				t.Errorf("%q: key %q, but %s makes %q, key %q", s, string(k), name, m(s), string(fk))
			}
		}
	})
}

// foldCase is one attack on a deny glob: a name that a server mapping
// names (via) reads as hidden, which the glob matches as written; and a
// control, a name near it that no mapping reads as one the glob matches.
type foldCase struct {
	glob, hidden, attack, via, control string
}

var foldCases = []foldCase{
	{"internal_*", "internal_notes", "\u0131nternal_notes", "Upper-und", "external_notes"},                                     // dotless ı: JS toUpperCase, Python upper()
	{"internal_*", "internal_notes", "\u0130NTERNAL_NOTES", "ToLower", "\u0130XTERNAL_NOTES"},                                  // İ: Go's strings.ToLower
	{"internal_*", "internal_x", "I\u0307NTERNAL_X", "Lower-tr", "J\u0307NTERNAL_X"},                                           // I and a combining dot: Turkish lower
	{"internal_*", "internal_x", "\uff29\uff2e\uff34\uff25\uff32\uff2e\uff21\uff2c_x", "NFKC+Lower-und", "\uff25\uff38\uff34"}, // full width: JS normalize("NFKC").toLowerCase()
	{"internal_*", "internal_x", "\uff49\uff4e\uff54\uff45\uff52\uff4e\uff41\uff4c_x", "NFKC", "x"},
	{"hidden_tool", "hidden_tool", "h\u0131dden_tool", "Upper-und", "hodden_tool"},
	{"hidden_tool", "hidden_tool", "\uff48\uff49\uff44\uff44\uff45\uff4e_tool", "NFKC", "\uff48\uff49\uff44\uff45\uff4e_tool"},
	{"hidden_tool", "hidden_tool", "hidden_too\u2113", "NFKC", "hidden_toom"}, // script ℓ
	{"read_file", "read_file", "read_\ufb01le", "Upper-und", "read_\ufb02le"}, // ﬁ
	{"read_file", "read_file", "read_\ufb01le", "NFKC", "read_\ufb00le"},      // ﬁ
	{"off", "off", "o\ufb00", "Upper-und", "o\ufb01"},                         // ﬀ
	{"flag", "flag", "\ufb02ag", "Fold", "\ufb01ag"},                          // ﬂ
	{"office", "office", "o\ufb03ce", "Upper-und", "o\ufb04ce"},               // ﬃ
	{"waffle", "waffle", "wa\ufb04e", "Upper-und", "wa\ufb03e"},               // ﬄ
	{"waffle", "waffle", "wa\ufb04e", "NFKC", "wa\ufb03e"},
	{"star", "star", "\ufb05ar", "Upper-und", "\ufb06r"},                      // ﬅ, long s t
	{"star", "star", "\ufb06ar", "Upper-und", "\ufb05r"},                      // ﬆ
	{"strasse", "strasse", "stra\u00dfe", "Upper-und", "strase"},              // ß
	{"strasse", "strasse", "STRA\u1e9eE", "Fold", "STRA\u1e9e"},               // ẞ
	{"stra\u00dfe", "stra\u00dfe", "STRASSE", "Upper-und", "STRASE"},          // a deny written with ß
	{"kelvin", "kelvin", "\u212aelvin", "ToLower", "\u212belvin"},             // Kelvin sign, Ångström sign in the control
	{"\u03c9_tool", "\u03c9_tool", "\u2126_tool", "Lower-und", "\u03a8_tool"}, // Ohm sign
	{"\u03c9_tool", "\u03c9_tool", "\u2126_TOOL", "NFC+Lower-und", "\u03c8_tool"},
	{"\u03c3_x", "\u03c3_x", "\u03c2_x", "Upper-und", "\u03c4_x"}, // final sigma
	{"\u03c2_x", "\u03c2_x", "\u03c3_x", "Upper-und", "\u03c4_x"},
	{"\u0574\u0576", "\u0574\u0576", "\ufb13", "Upper-und", "\ufb14"},      // Armenian ligature men now
	{"istanbul", "istanbul", "\u0130STANBUL", "Lower-tr", "\u0130ZTANBUL"}, // Turkish İ
	{"istanbul", "istanbul", "\u0131stanbul", "Upper-und", "\u0131ztanbul"},
	{"\ufb01le", "\ufb01le", "FILE", "Upper-und", "FILES"},  // a deny written with a ligature
	{"h?dden", "h\u2171dden", "hiidden", "NFKC", "hqqdden"}, // ? is one character, whose key may be two
	{"[!a]b", "Ab", "ab", "Upper-und", "ac"},
	{"secret_*", "secret_x", "\u017fecret_x", "Upper-und", "\u017fekret_x"}, // long s
}

// TestDenyFullMapping shows, for each case, that the server mapping reads
// the attack as the hidden name (the attack works without mcpcell), and
// that mcpcell denies it as a tool, as a prompt and in a listing, while
// the control is allowed.
func TestDenyFullMapping(t *testing.T) {
	maps := nameMappings()
	for _, c := range foldCases {
		m := func(s string) string {
			for _, via := range strings.Split(c.via, "+") {
				f := maps[via]
				if f == nil {
					t.Fatalf("no mapping %s", via)
				}
				s = f(s)
			}
			return s
		}
		if m(c.attack) != m(c.hidden) {
			t.Errorf("%s: %q is %q, %q is %q: the attack is no attack", c.via, c.attack, m(c.attack), c.hidden, m(c.hidden))
		}
		if re, _ := compileGlob(c.glob, false); !re.MatchString(c.hidden) || re.MatchString(c.attack) && c.glob != "[!a]b" {
			t.Errorf("glob %q: matches %q %v, %q %v as written", c.glob, c.hidden, re.MatchString(c.hidden), c.attack, re.MatchString(c.attack))
		}
		for _, n := range maps {
			if n(c.control) == n(c.hidden) {
				t.Errorf("control %q is the hidden %q to some mapping", c.control, c.hidden)
			}
		}
		pol := testPolicy(t, fmt.Sprintf("[tools]\ndeny = [%q]\n[prompts]\ndeny = [%q]\n", c.glob, c.glob))
		for _, name := range []string{c.attack, c.control} {
			want := name == c.attack
			tool := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, name))
			if (tool.Action == jsonrpc.Refuse) != want || want && tool.Err.Message != "Unknown tool: "+name {
				t.Errorf("deny %q, tools/call %q (%s): %+v, want refused %v", c.glob, name, c.via, tool, want)
			}
			prompt := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":%q}}`, name))
			if (prompt.Action == jsonrpc.Refuse) != want || want && prompt.Err.Message != "Unknown prompt: "+name {
				t.Errorf("deny %q, prompts/get %q (%s): %+v, want refused %v", c.glob, name, c.via, prompt, want)
			}
			ref := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":%q},"argument":{"name":"a","value":""}}}`, name))
			if (ref.Action == jsonrpc.Refuse) != want {
				t.Errorf("deny %q, completion of prompt %q: %+v, want refused %v", c.glob, name, ref, want)
			}
			list := reply(t, pol, &jsonrpc.Call{Method: "prompts/list"}, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":%q},{"name":"greeting"}]}}`, name))
			if shown := list.Frame == nil; shown == want {
				t.Errorf("deny %q, prompts/list with %q: shown %v", c.glob, name, shown)
			}
		}
	}
}

// TestArgsKeyFullMapping: a [tools.args] key constrains every name a
// server mapping reads as one it names. The control: a tool no mapping
// reads as read_file is not constrained.
func TestArgsKeyFullMapping(t *testing.T) {
	pol := testPolicy(t, "[tools.args.read_file]\npath = { within = [\"/proj\"] }\n")
	call := func(name string) jsonrpc.Verdict {
		return message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":{"path":"/etc/shadow"}}}`, name))
	}
	for _, name := range []string{"read_file", "READ_FILE", "read_\ufb01le", "READ_\ufb01LE", "\uff52\uff45\uff41\uff44_file", "r\u0435ad_file" /* Cyrillic е: no mapping, control below */} {
		v := call(name)
		if name == "r\u0435ad_file" {
			if v.Action != jsonrpc.Forward {
				t.Errorf("%q (a Cyrillic letter: another name to every mapping): %+v, want forwarded", name, v)
			}
			continue
		}
		if v.Action == jsonrpc.Forward || !strings.Contains(string(v.Result)+fmt.Sprint(v.Err), "within") {
			t.Errorf("%q with /etc/shadow: %+v, want the within constraint broken", name, v)
		}
	}
	for _, name := range []string{"read_files", "read_\ufb02le"} {
		if v := call(name); v.Action != jsonrpc.Forward {
			t.Errorf("control %q: %+v, want forwarded", name, v)
		}
	}
}

// TestAllowPlainOnly: allow matches the name as written, never through a
// mapping: a name a mapping reads as an allowed one is refused (the
// conservative direction: the server may hold another tool of that key).
func TestAllowPlainOnly(t *testing.T) {
	pol := testPolicy(t, "[tools]\nallow = [\"read_file\"]\n[prompts]\nallow = [\"greeting\"]\n")
	for _, c := range []struct {
		method, name string
		allowed      bool
	}{
		{"tools/call", "read_file", true}, {"tools/call", "read_\ufb01le", false}, {"tools/call", "READ_FILE", false}, {"tools/call", "\uff52ead_file", false},
		{"prompts/get", "greeting", true}, {"prompts/get", "GREET\u0130NG", false}, {"prompts/get", "gree\u0074\u0131ng", false},
	} {
		v := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":{"name":%q}}`, c.method, c.name))
		if (v.Action == jsonrpc.Forward) != c.allowed {
			t.Errorf("%s %q: %+v, want allowed %v", c.method, c.name, v, c.allowed)
		}
	}
}

// TestUnassignedCharacter: a character Unicode 15.0 does not assign may
// map to anything in a newer Unicode (Node 20 ships Unicode 17, where
// U+1CCF0 OUTLINED DIGIT ZERO is 0 to NFKC): a name holding one is denied
// by every deny glob and constrained by every [tools.args] key. The
// control: without deny globs it passes, and assigned characters are
// decided by their key.
func TestUnassignedCharacter(t *testing.T) {
	const outlined = "\U0001CCF0"
	if assigned([]rune(outlined)[0]) {
		t.Skip("U+1CCF0 is assigned in this Go's Unicode tables")
	}
	pol := testPolicy(t, "[tools]\ndeny = [\"tool_1\"]\n[tools.args.other]\npath = { within = [\"/proj\"] }\n")
	v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tool_`+outlined+`"}}`)
	if v.Action != jsonrpc.Refuse {
		t.Errorf("tool_%s: %+v, want refused", outlined, v)
	}
	if v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tool_0"}}`); v.Action != jsonrpc.Forward {
		t.Errorf("control tool_0: %+v", v)
	}
	open := testPolicy(t, "[prompts]\ndeny = [\"x\"]\n")
	if v := message(t, open, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"tool_`+outlined+`"}}`); v.Action != jsonrpc.Forward {
		t.Errorf("without a tools deny: %+v", v)
	}
}
