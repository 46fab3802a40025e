package jsontext

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestMembersLookupString(t *testing.T) {
	raw := []byte(`{ "a" : 1 , "b":"x\"y", "c":{"d":[1,{"e":2}]}, "f":null }`)
	if err := Validate(raw); err != nil {
		t.Fatal(err)
	}
	ms, err := Members(raw)
	if err != nil || len(ms) != 4 {
		t.Fatalf("Members = %v, %v", ms, err)
	}
	for _, m := range ms {
		if got := string(raw[m.Start:m.End]); got != string(m.Value) {
			t.Errorf("member %s: offsets give %q, value %q", m.Name, got, m.Value)
		}
	}
	if s, ok := String(Lookup(raw, "b")); !ok || s != `x"y` {
		t.Errorf(`Lookup b = %q %v`, s, ok)
	}
	if got := string(Lookup(Lookup(raw, "c"), "d")); got != `[1,{"e":2}]` {
		t.Errorf("nested lookup = %s", got)
	}
	if Lookup(raw, "B") != nil {
		t.Errorf("Lookup matched a name in another case")
	}
	els, _ := Elements(Lookup(Lookup(raw, "c"), "d"))
	if len(els) != 2 || string(els[1]) != `{"e":2}` {
		t.Errorf("Elements = %q", els)
	}
}

// LookupFold finds a member in the spellings Go's encoding/json reads as
// the name (strings.EqualFold: the long s and the Kelvin sign among them),
// and says which spelling it found; Lookup, the control, finds only the
// name itself.
func TestLookupFold(t *testing.T) {
	for _, c := range []struct{ obj, name, value, spelled string }{
		{`{"path":1}`, "path", "1", ""},
		{`{"Path":1}`, "path", "1", "Path"},
		{`{"PATH":1}`, "path", "1", "PATH"},
		{`{"pa\u017fh":1}`, "path", "", ""}, // ſ folds to s, not t: no match
		{`{"pat\u017f":1}`, "pats", "1", "pat\u017f"},
		{`{"\u212aey":1}`, "key", "1", "\u212aey"}, // the Kelvin sign folds to k
		{`{"Arguments":{}}`, "arguments", "{}", "Arguments"},
		{`{"a":1,"b":2}`, "path", "", ""},
		{`{"paths":1}`, "path", "", ""},
	} {
		v, spelled := LookupFold([]byte(c.obj), c.name)
		if string(v) != c.value || spelled != c.spelled {
			t.Errorf("LookupFold(%s, %q) = %s, %q; want %s, %q", c.obj, c.name, v, spelled, c.value, c.spelled)
		}
		if c.spelled != "" && Lookup([]byte(c.obj), c.name) != nil {
			t.Errorf("Lookup(%s, %q) found a member of another spelling", c.obj, c.name)
		}
		// Go's encoding/json, as a server written with it reads the
		// object: it fills a field named name exactly when LookupFold
		// finds the member.
		typ := reflect.StructOf([]reflect.StructField{{Name: "V", Type: reflect.TypeOf(json.RawMessage{}), Tag: reflect.StructTag(`json:"` + c.name + `"`)}})
		into := reflect.New(typ)
		if err := json.Unmarshal([]byte(c.obj), into.Interface()); err != nil {
			t.Fatal(err)
		}
		if got := string(into.Elem().Field(0).Bytes()); got != c.value {
			t.Errorf("encoding/json reads %q of %s as %s, LookupFold as %s", c.name, c.obj, got, c.value)
		}
	}
}
