package jsontext

import (
	"errors"
	"testing"
)

// The edits keep every byte they do not change, and say when a member on
// the path is absent.
func TestEdits(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func() ([]byte, error)
		want string
		err  error
	}{
		{"set an existing member", func() ([]byte, error) { return SetMember([]byte(`{ "a" : 1 ,"b":2}`), "a", []byte(`[3]`)), nil }, `{ "a" : [3] ,"b":2}`, nil},
		{"set a new member", func() ([]byte, error) { return SetMember([]byte(`{"a":1} `), "b", []byte(`"x"`)), nil }, `{"a":1,"b":"x"} `, nil},
		{"set in an empty object", func() ([]byte, error) { return SetMember([]byte(`{}`), "a<", []byte(`1`)), nil }, `{"a\u003c":1}`, nil},
		{"set in a non-object", func() ([]byte, error) { return SetMember([]byte(`[1]`), "a", []byte(`1`)), nil }, `[1]`, nil},
		{"drop members", func() ([]byte, error) { return DropMembers([]byte(`{"a":1, "b":{"c":2}, "d":3}`), "a", "d") }, `{"b":{"c":2}}`, nil},
		{"drop none", func() ([]byte, error) { return DropMembers([]byte(`{ "a":1 }`), "x") }, `{ "a":1 }`, nil},
		{"edit a nested value", func() ([]byte, error) {
			return Edit([]byte(`{"a": {"b": [1], "c": 2}}`), []string{"a", "b"}, func([]byte) ([]byte, error) { return JoinArray([][]byte{[]byte(`1`), []byte(`{}`)}), nil })
		}, `{"a": {"b": [1,{}], "c": 2}}`, nil},
		{"edit an absent path", func() ([]byte, error) {
			return Edit([]byte(`{"a":{}}`), []string{"a", "b"}, func(v []byte) ([]byte, error) { return v, nil })
		}, `{"a":{}}`, ErrAbsent},
		{"splice", func() ([]byte, error) { return Splice([]byte(`0123456`), 2, 4, []byte(`ab`)), nil }, `01ab456`, nil},
	} {
		got, err := c.do()
		if string(got) != c.want || !errors.Is(err, c.err) {
			t.Errorf("%s: got %s, %v; want %s, %v", c.name, got, err, c.want, c.err)
		}
		if c.err == nil && Validate(got) != nil && c.name != "splice" {
			t.Errorf("%s: %s is not valid JSON", c.name, got)
		}
	}
}

// StripJSONC blanks comments and trailing commas, never a byte of a
// string, and keeps every offset.
func TestStripJSONC(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"{\"a\": 1, // one\n\"b\": [2,],}", "{\"a\": 1,       \n\"b\": [2 ] }"},
		{`{"a": "// not a comment", /* gone */ "b": "/* kept */"}`, `{"a": "// not a comment",            "b": "/* kept */"}`},
		{`{"a": "\" // still a string"}`, `{"a": "\" // still a string"}`},
		{"/* a\nb */{}", "    \n    {}"},
	} {
		got := StripJSONC([]byte(c.in))
		if string(got) != c.want || len(got) != len(c.in) {
			t.Errorf("StripJSONC(%q) = %q, want %q", c.in, got, c.want)
		}
		if err := Validate(got); err != nil {
			t.Errorf("StripJSONC(%q) = %q: %v", c.in, got, err)
		}
	}
}
