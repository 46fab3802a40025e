package profiles

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

func TestGlobsMeet(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"read_*", "read_file", true},
		{"read_*", "*_file", true},
		{"read_*", "write_*", false},
		{"reed_file", "read_*", false},
		{"*", "anything", true},
		{"a*b*c", "*x*", true}, // axbc
		{"a*", "*a", true},
		{"ab", "a?", true},
		{"ab", "a??", false},
		{"a*", "b*", false},
		{"list_[!d]*", "list_directory", false},
		{"list_[!d]*", "list_allowed", true},
		{"list_[a-c]*", "list_[c-e]x", true},
		{"list_[a-b]*", "list_[c-e]x", false},
		{"[!a]", "a", false},
		{"[!a]", "?", true},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"café", "caf?", true},
		{"café", "cafe", false},
		{"*a*a*a*a*", "*b*b*b*b*", true},
		{"a?c", "*b", false},
		{"", "*", true},
		{"", "a", false},
	} {
		if got := globsMeet(c.a, c.b); got != c.want {
			t.Errorf("globsMeet(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := globsMeet(c.b, c.a); got != c.want {
			t.Errorf("globsMeet(%q, %q) = %v, want %v", c.b, c.a, got, c.want)
		}
	}
}

// TestGlobsMeetAgreesWithRegexp checks the intersection against brute
// force: every short name over a small alphabet, matched by both globs'
// regexps.
func TestGlobsMeetAgreesWithRegexp(t *testing.T) {
	globs := []string{"*", "a*", "*a", "a?", "?b", "[ab]", "[!a]*", "a*b", "b*a*", "ab", "ba", "?", "??", "a[!b]", "*b*", "", `\?`, "?*?", "[a-b]?"}
	var names []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		names = append(names, prefix)
		if n == 0 {
			return
		}
		for _, c := range "ab?" {
			gen(prefix+string(c), n-1)
		}
	}
	gen("", 4)
	for _, a := range globs {
		for _, b := range globs {
			ra, rb := mustGlob(t, a), mustGlob(t, b)
			brute := false
			for _, n := range names {
				if ra.MatchString(n) && rb.MatchString(n) {
					brute = true
					break
				}
			}
			if got := globsMeet(a, b); got != brute {
				t.Errorf("globsMeet(%q, %q) = %v; a name of up to 4 characters matching both: %v", a, b, got, brute)
			}
		}
	}
}

func mustGlob(t *testing.T, g string) *regexp.Regexp {
	t.Helper()
	if g == "" {
		return regexp.MustCompile(`^$`)
	}
	re, err := compileGlob(g, false)
	if err != nil {
		t.Fatal(err)
	}
	return re
}

func TestGlobCovers(t *testing.T) {
	for _, c := range []struct {
		outer, inner string
		want         bool
	}{
		{"*", "read_*", true},
		{"read_*", "read_*", true},
		{"read_*", "read_file", true},
		{"read_*", "write_file", false},
		{"read_file", "read_*", false},
		{"read_*", "read_t*", false}, // true, but not decided: false means maybe not
	} {
		if got := globCovers(c.outer, c.inner); got != c.want {
			t.Errorf("globCovers(%q, %q) = %v, want %v", c.outer, c.inner, got, c.want)
		}
	}
}

// A [tools.args] key that can name no tool the client may call guards
// nothing: it is an error at its line.
func TestArgKeyErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[tools]\nallow = [\"read_*\"]\n[tools.args.reed_file]\npath = { within = [\"/p\"] }\n",
			`p.toml:3: tools.args.reed_file: no [tools] allow pattern admits it (allow: "read_*")`},
		{"[tools]\nallow = [\"read_*\", \"list_directory\"]\n\n[tools.args.\"write_*\"]\npath = { within = [\"/p\"] }\n",
			`p.toml:4: tools.args."write_*": no [tools] allow pattern admits it (allow: "read_*", "list_directory")`},
		{"[tools]\nallow = [\"list_directory\"]\n[tools.args.\"list_[!d]*\"]\npath = { max_len = 3 }\n",
			`p.toml:3: tools.args."list_[!d]*": no [tools] allow pattern admits it`},
		{"[tools]\nallow = []\n[tools.args.echo]\nmessage = { max_len = 3 }\n",
			`p.toml:3: tools.args.echo: no [tools] allow pattern admits it (allow: none)`},
		{"[tools]\ndeny = [\"write_*\"]\n[tools.args.write_file]\npath = { within = [\"/p\"] }\n",
			`p.toml:3: tools.args.write_file: [tools] deny "write_*" (` /* file */},
		{"[tools]\ndeny = [\"*\"]\n[tools.args.\"read_*\"]\npath = { within = [\"/p\"] }\n",
			`p.toml:3: tools.args."read_*": [tools] deny "*"`},
		{"# a [ in a quoted table name\n[tools.args.\"r[ae]ad_[\"]\npath = { within = [\"/p\"] }\n",
			`p.toml:2: tools.args."r[ae]ad_[": glob "r[ae]ad_[": unclosed [`},
		{"[tools.args]\n\"read_*\" = { path = { withn = [\"/p\"] } }\n",
			`unknown key "withn"`},
		{"[tools.args.\"read_*\"]\npath = { within = [\"p\"] }\n",
			`p.toml:2: tools.args."read_*".path: within: "p" is not an absolute path`},
	} {
		_, _, err := compileProfile(t, c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerr = %v\nwant %q", c.text, err, c.want)
		}
	}
	// Admitted: a key that meets an allow glob, whatever it is written as.
	for _, text := range []string{
		"[tools]\nallow = [\"read_*\"]\n[tools.args.\"*_file\"]\npath = { max_len = 9 }\n",
		"[tools]\nallow = [\"read_text_file\"]\n[tools.args.\"read_*\"]\npath = { max_len = 9 }\n",
		"[tools]\nallow = [\"read_*\"]\ndeny = [\"read_media_file\"]\n[tools.args.\"read_*\"]\npath = { max_len = 9 }\n",
		"[tools.args.anything_at_all]\npath = { max_len = 9 }\n", // allow absent: every name
	} {
		if _, _, err := compileProfile(t, text); err != nil {
			t.Errorf("%s\nerr = %v, want none", text, err)
		}
	}
	// Several bad keys: every one is named, in the order written.
	_, _, err := compileProfile(t, "[tools]\nallow = [\"a\"]\n[tools.args.z]\nx = { max_len = 1 }\n[tools.args.b]\nx = { max_len = 1 }\n")
	if err == nil || !regexp.MustCompile(`(?s)p\.toml:3: tools\.args\.z: .*\n.*p\.toml:5: tools\.args\.b: `).MatchString(err.Error()) {
		t.Errorf("two bad keys: %v", err)
	}
}

// call asks pol about a tools/call frame and returns the verdict.
func call(t *testing.T, pol *Policy, version, name, args string) jsonrpc.Verdict {
	t.Helper()
	frame := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":%s,"_meta":{"io.modelcontextprotocol/protocolVersion":%q}}}`, name, args, version)
	return message(t, pol, jsonrpc.Up, frame)
}

// violation is the message of a broken constraint, or "" when the call
// goes on.
func violation(v jsonrpc.Verdict) string {
	switch v.Action {
	case jsonrpc.Forward:
		return ""
	case jsonrpc.Answer:
		var r struct{ Content []struct{ Text string } }
		if json.Unmarshal(v.Result, &r) != nil || len(r.Content) != 1 {
			return "unreadable result " + string(v.Result)
		}
		return r.Content[0].Text
	}
	return v.Err.Message
}

func TestArgConstraints(t *testing.T) {
	_, pol, err := compileProfile(t, `
[tools]
allow = ["read_*", "list_directory", "echo"]
[tools.args."read_*"]
path = { within = ["/proj"] }
paths = { within = ["/proj"] }
[tools.args."*"]
path = { max_len = 12 }
[tools.args.echo]
mode = { enum = ["a", "b", 1] }
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, args string
		want       string // "" goes on; else part of the violation
		rule       string
	}{
		// A glob key applies to every tool it matches (the review: it
		// was shown by check and never applied).
		{"read_text_file", `{"path":"/etc/passwd"}`, `argument "path" of tool "read_text_file" is outside the allowed folders (within: /proj)`, `tools.args."read_*".path`},
		{"read_media_file", `{"path":"/etc/x"}`, "outside the allowed folders", `tools.args."read_*".path`},
		{"read_text_file", `{"path":"/proj/a"}`, "", ""},
		// Every key that matches applies: "*" bounds the length too.
		{"read_text_file", `{"path":"/proj/aaaaaaaaaa"}`, "longer than 12 characters (max_len)", `tools.args."*".path`},
		{"list_directory", `{"path":"/etc"}`, "", ""},
		{"list_directory", `{"path":"/etc/aaaaaaaaaa"}`, "longer than 12", ""},
		// Arrays: each element (the review: within on an array refused
		// every call).
		{"read_multiple_files", `{"paths":["/proj/a","/proj/b"]}`, "", ""},
		{"read_multiple_files", `{"paths":[]}`, "", ""},
		{"read_multiple_files", `{"paths":["/proj/a","/etc/passwd"]}`, `argument "paths" of tool "read_multiple_files" (element 1) is outside the allowed folders`, `tools.args."read_*".paths`},
		{"read_multiple_files", `{"paths":["/etc/passwd","/proj/a"]}`, "(element 0) is outside", ""},
		{"read_multiple_files", `{"paths":["/proj/a/../../etc"]}`, "(element 0) is outside", ""},
		{"read_multiple_files", `{"paths":["/proj/a","file:///proj/%2e%2e/etc/passwd"]}`, "(element 1) is a URI, not an absolute path", ""},
		{"read_multiple_files", `{"paths":["/proj/a","file:///proj/a"]}`, "(element 1) is a URI, not an absolute path", ""},
		{"read_multiple_files", `{"paths":["/proj/a","rel"]}`, "(element 1) is a relative path", ""},
		{"read_multiple_files", `{"paths":["/proj/a",7]}`, "(element 1) must be a string, not number", ""},
		{"read_multiple_files", `{"paths":["/proj/a",null]}`, "(element 1) must be a string, not null", ""},
		{"read_multiple_files", `{"paths":["/proj/a",true]}`, "(element 1) must be a string, not boolean", ""},
		{"read_multiple_files", `{"paths":["/proj/a",{"path":"/etc"}]}`, "(element 1) must be a string, not object", ""},
		{"read_multiple_files", `{"paths":["/proj/a",["/etc/passwd"]]}`, "(element 1) must be a string, not array", ""},
		{"read_multiple_files", `{"paths":[["/proj/a"]]}`, "(element 0) must be a string, not array", ""},
		// Not an array: the value itself.
		{"read_multiple_files", `{"paths":"/etc/passwd"}`, `argument "paths" of tool "read_multiple_files" is outside`, ""},
		{"read_multiple_files", `{"paths":"/proj/a"}`, "", ""},
		{"read_multiple_files", `{"paths":{"0":"/etc/passwd"}}`, "must be a string or an array of strings, not object", ""},
		{"read_multiple_files", `{"paths":null}`, "must be a string or an array of strings, not null", ""},
		{"read_multiple_files", `{"paths":42}`, "not number", ""},
		// Absent arguments are the server's business.
		{"read_multiple_files", `{}`, "", ""},
		// enum applies to each element too; a non-string may be listed.
		{"echo", `{"mode":"a"}`, "", ""},
		{"echo", `{"mode":1}`, "", ""},
		{"echo", `{"mode":["a","b",1]}`, "", ""},
		{"echo", `{"mode":["a","c"]}`, "(element 1) is not one of the allowed values (enum)", `tools.args.echo.mode`},
		{"echo", `{"mode":[["a"]]}`, "(element 0) is not one of the allowed values", ""},
		{"echo", `{"mode":"1"}`, "is not one of the allowed values", ""},
	} {
		v := call(t, pol, "2025-11-25", c.name, c.args)
		got := violation(v)
		switch {
		case c.want == "" && got != "":
			t.Errorf("%s %s: refused (%s), want it to go on", c.name, c.args, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s %s: %q, want %q", c.name, c.args, got, c.want)
		case c.want != "" && v.Action != jsonrpc.Answer:
			t.Errorf("%s %s: action %v, want an isError result (2025-11-25)", c.name, c.args, v.Action)
		case c.rule != "" && !strings.HasPrefix(v.Rule, c.rule+" ("):
			t.Errorf("%s %s: rule %q, want %q and its line", c.name, c.args, v.Rule, c.rule)
		}
	}
	// Before 2025-11-25 a broken constraint is -32602.
	if v := call(t, pol, "2025-06-18", "read_multiple_files", `{"paths":["/etc/passwd"]}`); v.Action != jsonrpc.Refuse || v.Err.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("2025-06-18: %+v, want -32602", v)
	}
}

// The control of TestArgConstraints: without the [tools.args] keys the
// same calls go on.
func TestArgConstraintsControl(t *testing.T) {
	_, pol, err := compileProfile(t, "[tools]\nallow = [\"read_*\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range []string{`{"paths":["/proj/a","/etc/passwd"]}`, `{"path":"/etc/passwd"}`} {
		if v := call(t, pol, "2025-11-25", "read_multiple_files", args); v.Action != jsonrpc.Forward {
			t.Errorf("%s without constraints: %+v", args, v)
		}
	}
}

func TestArgsPerTool(t *testing.T) {
	p, _, err := compileProfile(t, `
[tools]
allow = ["read_*", "list_directory", "search_files"]
[tools.args."read_*"]
path = { within = ["/proj"] }
[tools.args."*"]
path = { max_len = 4096 }
[tools.args.read_text_file]
head = { enum = [10] }
`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ta := range p.ArgsPerTool() {
		var args []string
		for _, a := range ta.Args {
			s := a.Arg + " from " + a.Key
			if a.Partly {
				s += " partly"
			}
			args = append(args, s)
		}
		got = append(got, ta.Tool+": "+strings.Join(args, ", "))
	}
	want := []string{
		"read_*: path from *, path from read_*, head from read_text_file partly",
		"list_directory: path from *",
		"search_files: path from *",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ArgsPerTool:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// With allow absent, the rows are the keys.
	p, _, err = compileProfile(t, "[tools.args.\"read_*\"]\npath = { within = [\"/proj\"] }\n[tools.args.\"*\"]\npath = { max_len = 9 }\n")
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, ta := range p.ArgsPerTool() {
		var keys []string
		for _, a := range ta.Args {
			keys = append(keys, fmt.Sprintf("%s/%v", a.Key, a.Partly))
		}
		got = append(got, ta.Tool+": "+strings.Join(keys, " "))
	}
	if g := strings.Join(got, "; "); g != "*: */false read_*/true; read_*: */false read_*/false" {
		t.Errorf("ArgsPerTool without allow: %s", g)
	}
}

// A key that matches none of the tools a server lists is noted once: a
// misspelling when [tools] allow is absent, where loading cannot tell.
func TestUnmatchedArgsNote(t *testing.T) {
	_, pol, err := compileProfile(t, "[tools.args.reed_file]\npath = { within = [\"/p\"] }\n[tools.args.\"read_*\"]\npath = { within = [\"/p\"] }\n")
	if err != nil {
		t.Fatal(err)
	}
	reply := func(cursor, result string) jsonrpc.Verdict {
		return listPage(t, pol, cursor, result)
	}
	if v := reply("", `{"tools":[{"name":"read_file"}],"nextCursor":"2"}`); v.Note != "" {
		t.Errorf("first page: note %q, want none until the listing ends", v.Note)
	}
	v := reply("2", `{"tools":[{"name":"write_file"}]}`)
	if !strings.Contains(v.Note, `tools.args.reed_file (`) || strings.Contains(v.Note, "read_*") || !strings.Contains(v.Note, "none of the 2 tools") {
		t.Errorf("last page: note %q, want reed_file named, not read_*", v.Note)
	}
	// A key that matched a listing before is no misspelling.
	if v := reply("", `{"tools":[{"name":"write_file"}]}`); v.Note != "" {
		t.Errorf("listed again: note %q, want it once a session", v.Note)
	}
}

// TestEnumNumbersExact: enum compares JSON numbers as the decimals they
// write, not as 64-bit floats (the review: 1234567890123456800 passed for
// 1234567890123456789, and a server reading integers exactly acted on
// it). The control: as floats those values are one.
func TestEnumNumbersExact(t *testing.T) {
	_, pol, err := compileProfile(t, `
[tools.args.post]
channel = { enum = [1234567890123456789, 1000, 0, 0.1, -2.5, 9007199254740991, 9007199254740993, "7", true] }
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n  string
		ok bool
	}{
		{"1234567890123456789", true},
		// The same number with a point or an exponent is a float to
		// Python and JavaScript: 1234567890123456768.
		{"1.234567890123456789e18", false},
		{"12345678901234567890e-1", false},
		{"1234567890123456789.000", false},
		{"1234567890123456800", false},
		{"1234567890123456700", false},
		{"1234567890123456788", false},
		{"1234567890123456790", false},
		{"1.2345678901234568e18", false},
		{"1000", true}, {"1e3", true}, {"1E3", true}, {"1e+3", true}, {"1000.0", true}, {"1000.000", true},
		{"10000e-1", true}, {"0.001e6", true}, {"1000.0000000000000001", false}, {"999.99999999999999999", false},
		{"1001", false}, {"100", false}, {"-1000", false},
		{"0", true}, {"-0", true}, {"0.0", true}, {"-0.0e-5", true}, {"0e999999999999999999999", true},
		{"0.1", true}, {"0.10", true}, {"1e-1", true}, {"0.1000000000000000055511151231257827", false}, {"0.11", false},
		{"-2.5", true}, {"-25e-1", true}, {"2.5", false},
		{"9007199254740991", true}, {"9007199254740992", false}, {"9007199254740990", false},
		{"9007199254740991.0", true}, {"9.007199254740991e15", true},
		{"9007199254740993", true}, {"9007199254740993.0", false}, {"9.007199254740993e15", false},
		{"7", false}, {`"7"`, true}, {`"1000"`, false},
		{"true", true}, {"false", false}, {`"true"`, false}, {"null", false},
		// Huge exponents cost what their text does, and match nothing.
		{"1e999999999", false}, {"1e-999999999", false}, {"1e99999999999999999999999", false},
		{"-1e-99999999999999999999999", false}, {"1" + strings.Repeat("0", 100000) + "e-100000", false},
		{"1" + strings.Repeat("0", 3) + "." + strings.Repeat("0", 100000), true},
	} {
		got := violation(call(t, pol, "2025-11-25", "post", `{"channel":`+c.n+`}`)) == ""
		if got != c.ok {
			name := c.n
			if len(name) > 40 {
				name = name[:40] + "…"
			}
			t.Errorf("channel %s: allowed %v, want %v", name, got, c.ok)
		}
	}
	// The control: as 64-bit floats the refused neighbours equal the value.
	a, _ := strconv.ParseFloat("1234567890123456789", 64)
	for _, n := range []string{"1234567890123456800", "1234567890123456700"} {
		if b, _ := strconv.ParseFloat(n, 64); a != b {
			t.Errorf("control: %s and 1234567890123456789 differ as floats; the test shows nothing", n)
		}
	}
}

// FuzzParseDecimal: parseDecimal reads every number as math/big does
// (where big's work is bounded: short texts, small exponents), and equal
// numbers are equal decimals.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "-0", "1e3", "1000.0", "0.001", "-12.5E-3", "1e999999999", "00012.3400", "x", "1.", ".5", "1e", "--1"} {
		f.Add(s, "1000")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, okA := parseDecimal(a)
		db, okB := parseDecimal(b)
		small := func(s string) bool {
			_, e, found := strings.Cut(strings.ToLower(s), "e")
			return len(s) < 100 && (!found || len(strings.TrimLeft(e, "+-0")) <= 3)
		}
		if !okA || !okB || !small(a) || !small(b) {
			return
		}
		ra, okRA := new(big.Rat).SetString(a)
		rb, okRB := new(big.Rat).SetString(b)
		if !okRA || !okRB {
			return
		}
		if got := ra.Cmp(rb) == 0; got != (da == db) {
			t.Fatalf("%q and %q: big.Rat says equal=%v, parseDecimal %+v and %+v", a, b, got, da, db)
		}
		// The decimal is the number.
		r := new(big.Rat).SetInt64(0)
		if da.digits != "" {
			n, _ := new(big.Int).SetString(da.digits, 10)
			p := new(big.Int).Exp(big.NewInt(10), big.NewInt(max(da.exp, -da.exp)), nil)
			r.SetInt(n)
			if da.exp >= 0 {
				r.Mul(r, new(big.Rat).SetInt(p))
			} else {
				r.Quo(r, new(big.Rat).SetInt(p))
			}
			if da.neg {
				r.Neg(r)
			}
		}
		if r.Cmp(ra) != 0 {
			t.Fatalf("%q: parseDecimal %+v is %s, big.Rat %s", a, da, r.RatString(), ra.RatString())
		}
	})
}
