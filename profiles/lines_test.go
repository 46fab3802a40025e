package profiles

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// TestKeyLines: every way TOML writes a key is found at its line (the
// review: args."write_*".path under [tools] was reported at the [tools]
// line), and text in strings and comments is never taken for a key.
func TestKeyLines(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       map[string]int // dotted key: line
		none       []string       // keys that are not there
	}{
		{"dotted under a table", "[tools]\nallow = [\"read_*\"]\n\nargs.\"write_*\".path = { within = [\"/tmp\"] }\n",
			map[string]int{"tools": 1, "tools.allow": 2, `tools.args`: 4, `tools.args."write_*"`: 4, `tools.args."write_*".path`: 4, `tools.args."write_*".path.within`: 4}, nil},
		{"dotted at the top", "# x\n\ntools.args.\"x\".path = { max_len = 3 }\n",
			map[string]int{"tools": 3, `tools.args."x"`: 3, `tools.args."x".path.max_len`: 3}, nil},
		{"dotted with blanks", "[tools]\n  args . \"w*\" . path  =  { max_len = 3 }\n",
			map[string]int{`tools.args."w*".path`: 2}, nil},
		{"table header", "[tools]\n\n[tools.args.\"read_*\"]\npath = { within = [\"/p\"] }\n",
			map[string]int{"tools": 1, `tools.args`: 3, `tools.args."read_*"`: 3, `tools.args."read_*".path`: 4}, nil},
		{"header with blanks and a comment", "[ tools . args . 'w*' ] # c\npath = { max_len = 1 }\n",
			map[string]int{`tools.args."w*"`: 1, `tools.args."w*".path`: 2}, nil},
		{"inline tables, nested", "[tools]\nallow = [\"read_*\"]\n[tools.args]\n\n\n\"write_*\" = { path = { within = [\"/tmp\"] }, paths = { max_len = 2 } }\n",
			map[string]int{`tools.args`: 3, `tools.args."write_*"`: 6, `tools.args."write_*".path.within`: 6, `tools.args."write_*".paths.max_len`: 6}, nil},
		{"dots inside quotes", "[tools.args.\"a.b\"]\n\"c.d\" = { max_len = 1 }\n[tools.args.'e.f']\ng = { max_len = 1 }\n",
			map[string]int{`tools.args."a.b"`: 1, `tools.args."a.b"."c.d"`: 2, `tools.args."e.f"`: 3, `tools.args."e.f".g`: 4}, nil},
		{"escapes in quoted keys", "[tools.args]\n\"r\\u0065ad_*\" = { path = { max_len = 1 } }\n\"q\\\"x\" = { y = { max_len = 1 } }\n",
			map[string]int{`tools.args."read_*".path`: 2, `tools.args."q\"x".y`: 3}, nil},
		{"strings and comments hold no keys", "[server]\ncommand = [\"\"\"\n[tools.args.\"write_*\"]\nx = 1\n\"\"\", '''\ny = 2''', \"[z]\", 'w = 1'] # v = 1\n[tools]\nallow = [\"read_*\"]\nargs.\"write_*\".path = { within = [\"/p\"] }\n",
			map[string]int{"server.command": 2, "tools": 7, `tools.args."write_*"`: 9, `tools.args."write_*".path`: 9},
			[]string{"x", "y", "z", "w", "v", "server.x", "server.y", "server.v", "server.command.y", `tools.args."write_*".x`}},
		{"a multi-line array", "[filesystem]\nread = [\n  \"/a\", # c\n  \"/b\",\n]\nwrite = [\"/c\"]\n",
			map[string]int{"filesystem.read": 2, "filesystem.write": 6}, nil},
		{"inline tables in an array", "[x]\ny = [\n { a = 1 },\n { b = { c = 2 } },\n]\n",
			map[string]int{"x.y": 2, "x.y.a": 3, "x.y.b.c": 4}, nil},
		{"the first definition wins", "[tools.args.x]\np = { max_len = 1 }\n[tools]\nallow = [\"x\"]\n",
			map[string]int{"tools": 1, "tools.args.x.p": 2, "tools.allow": 4}, nil},
		{"array of tables", "[[a.b]]\nc = 1\n[[a.b]]\nd = 2\n", map[string]int{"a.b": 1, "a.b.c": 2, "a.b.d": 4}, nil},
		{"line ends", "[t]\r\na = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\nc = 3\r\n", map[string]int{"t.a": 2, "t.b": 3, "t.c": 5}, nil},
	} {
		var v map[string]any
		if _, err := toml.Decode(c.text, &v); err != nil {
			t.Fatalf("%s: the test's TOML: %v", c.name, err)
		}
		lines := keyLines([]byte(c.text))
		for key, want := range c.want {
			if got := lineOf(lines, key); got != want {
				t.Errorf("%s: line of %s = %d, want %d", c.name, key, got, want)
			}
		}
		for _, key := range c.none {
			if n, ok := lines[key]; ok {
				t.Errorf("%s: found key %s at line %d, in a string or a comment", c.name, key, n)
			}
		}
	}
}

// The review's profiles: a [tools.args] key no allow glob admits is an
// error at the line that wrote it, however TOML writes it.
func TestArgKeyErrorLines(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[tools]\nallow = [\"read_*\"]\n\n[tools.args.\"write_*\"]\npath = { within = [\"/tmp\"] }\n", `p.toml:4: tools.args."write_*": no [tools] allow`},
		{"[tools]\nallow = [\"read_*\"]\n\nargs.\"write_*\".path = { within = [\"/tmp\"] }\n", `p.toml:4: tools.args."write_*": no [tools] allow`},
		{"[tools]\nallow = [\"read_*\"]\n[tools.args]\n\n\n\"write_*\" = { path = { within = [\"/tmp\"] } }\n", `p.toml:6: tools.args."write_*": no [tools] allow`},
		{"tools.allow = [\"read_*\"]\n\n\ntools.args.\"write_*\".path = { within = [\"/tmp\"] }\n", `p.toml:4: tools.args."write_*": no [tools] allow`},
		{"[tools]\nallow = [\"read_*\"]\n\n[tools.args.\"write.file\"]\npath = { within = [\"/tmp\"] }\n", `p.toml:4: tools.args."write.file": no [tools] allow`},
		{"[tools]\nallow = [\"read_*\"]\nargs.\"read.x\".path = { max_len = 1 }\n\nargs.\"write.file\".path = { max_len = 1 }\n", `p.toml:5: tools.args."write.file": no [tools] allow`},
		{"[tools]\nallow = [\"read_*\"]\nargs.read_x.path = { max_len = 1 }\n\nargs.read_x.mode = { enum = [nan] }\n", `p.toml:5: tools.args.read_x.mode: enum: NaN`},
		{"[tools.args]\n\n\"read.*\" = { path = { max_len = 1, oops = 2 } }\n", `p.toml:3: unknown key "oops"`},
		{"[tools]\nargs.\"a.b\".path = { within = [\"${NOPE}\"] }\n", `p.toml:2: tools.args."a.b".path.within: unknown variable ${NOPE}`},
	} {
		_, _, err := compileProfile(t, c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerr = %v\nwant %q", c.text, err, c.want)
		}
	}
}

// A key of many parts is recorded to maxDepth of them: the work does not
// grow with the square of the text.
func TestKeyLinesDeepKey(t *testing.T) {
	for _, text := range []string{
		strings.Repeat("a.", 20000) + "b = 1\n",
		"[" + strings.Repeat("a.", 20000) + "b]\nc = 1\n",
		"x = " + strings.Repeat("{a = ", 20000) + "1" + strings.Repeat("}", 20000) + "\n",
	} {
		lines := keyLines([]byte(text))
		if len(lines) > maxDepth+1 {
			t.Errorf("%.20s…: %d keys recorded, want at most %d", text, len(lines), maxDepth+1)
		}
		if n := lineOf(lines, "a.a.a"); n != 1 && !strings.HasPrefix(text, "x") {
			t.Errorf("%.20s…: line of a.a.a = %d, want 1", text, n)
		}
	}
}

// FuzzKeyLines: the scanner ends on any text, and on TOML the library
// accepts it finds a line for every key the library reads.
func FuzzKeyLines(f *testing.F) {
	for _, s := range []string{
		"[tools]\nallow = [\"read_*\"]\nargs.\"write_*\".path = { within = [\"/tmp\"] }\n",
		"[tools.args]\n\"a.b\" = { path = { max_len = 1 } }\n",
		"a = \"\"\"\n[x]\n\"\"\"\nb = '''\ny = 1'''\n[[c.d]]\ne = [ { f = 1 },\n { g = 2 } ] # h = 3\n",
		"'k' . \"l\\u0041\" = 1\nm = 1979-05-27 07:32:00Z\nn = [[1, 2], [\"]\"]]\n",
		"[ a . 'b.c' ]\nd = { e = { f = [ { g = 1 } ] } }\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		lines := keyLines([]byte(text))
		var v map[string]any
		md, err := toml.Decode(text, &v)
		if err != nil {
			return
		}
		for _, k := range md.Keys() {
			if n, ok := lines[dotted(cutKey(k)...)]; !ok || n < 1 || n > strings.Count(text, "\n")+1 {
				t.Fatalf("key %s: line %d (found %v)\n%s", dotted(k...), n, ok, text)
			}
		}
	})
}
