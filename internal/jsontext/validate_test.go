package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // "" means valid; else a part of the error
	}{
		{`{}`, ""},
		{`{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"],"b":{"c":{}}}`, ""},
		{` {"a":1} `, ""},
		{`{"a":"\ud83d\ude00"}`, ""},
		{`{"a":1,"a":2}`, `duplicate member name "a"`},
		{`{"x":{"a":1,"b":{"c":1,"c":2}}}`, `duplicate member name "c"`},
		{`[{"a":1},{"a":1,"a":1}]`, `duplicate member name "a"`},
		{`{"name":"x","Name":"y"}`, `differ only in case`},
		{`{"s":1,"ſ":2}`, `differ only in case`}, // long s folds to s
		{`{"k":1,"K":2}`, `differ only in case`}, // Kelvin sign folds to k
		{`{"a":1,"\u0061":2}`, `duplicate member name "a"`},
		{`{"a":1} x`, "trailing data"},
		{`{"a":1}{"b":2}`, "trailing data"},
		{"{\"a\":\"\xff\"}", "invalid UTF-8"},
		{"{\"a\xc0\":1}", "invalid UTF-8"},
		{`{"a":"\ud800"}`, "lone surrogate"},
		{`{"a":"\udc00x"}`, "lone surrogate"},
		{`{"a":"\ud800\u0041"}`, "lone surrogate"},
		{"{\"a\":\"tab\there\"}", "control character"},
		{`{"a":01}`, "expected ',' or '}'"},
		{`{"a":1.}`, "invalid number"},
		{`{"a":-}`, "invalid number"},
		{`{"a":tru}`, "invalid literal"},
		{`{"a":1,}`, "expected a member name"},
		{`{"a" 1}`, "expected ':'"},
		{`[1,2`, "unexpected end"},
		{`{"a":"\x"}`, "invalid escape"},
		{``, "unexpected end"},
		{strings.Repeat("[", 600) + strings.Repeat("]", 600), "nested too deeply"},
		{strings.Repeat(`{"a":`, 600) + "1" + strings.Repeat("}", 600), "nested too deeply"},
	} {
		err := Validate([]byte(c.in))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Validate(%.60q) = %v, want nil", c.in, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Validate(%.60q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

// Many members switch the duplicate check to a map; it must still work.
func TestValidateManyMembers(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 40; i++ {
		b.WriteString(`"m` + strings.Repeat("x", i) + `":1,`)
	}
	ok := b.String() + `"last":1}`
	if err := Validate([]byte(ok)); err != nil {
		t.Fatalf("40 distinct members: %v", err)
	}
	for _, dup := range []string{`"mxxx":2}`, `"MXXX":2}`} {
		if err := Validate([]byte(b.String() + dup)); err == nil {
			t.Errorf("a duplicate %s after 40 members was accepted", dup)
		}
	}
}

// FuzzValidate holds Validate to encoding/json: whatever Validate accepts
// is valid JSON, and whatever it accepts Go decodes to the same members
// (no duplicates, so no last-one-wins).
func FuzzValidate(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":[1,2,{"c":"d"}]}`, `{"a":1,"a":2}`, `{"name":"x","Name":"y"}`, `{"a":"\ud800"}`, `[1,2]`, `"s"`, `{"a":1} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if Validate(b) != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("Validate accepted invalid JSON %q", b)
		}
		if TypeOf(trimSpace(b)) == "object" {
			ms, err := Members(trimSpace(b))
			if err != nil {
				t.Fatalf("Members of a valid object: %v", err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("json.Unmarshal of an accepted object: %v", err)
			}
			if len(m) != len(ms) {
				t.Fatalf("Go sees %d members, Members %d: %q", len(m), len(ms), b)
			}
		}
	})
}

func trimSpace(b []byte) []byte { return []byte(strings.TrimSpace(string(b))) }
