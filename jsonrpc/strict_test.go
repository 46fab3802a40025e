package jsonrpc

import (
	"encoding/json"
	"errors"
	"reflect"
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

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		kind Kind
		err  string
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, Request, ""},
		{`{"jsonrpc":"2.0","id":"a","method":"x","params":{}}`, Request, ""},
		{`{"jsonrpc":"2.0","method":"notifications/x"}`, Notification, ""},
		{`{"jsonrpc":"2.0","id":1,"result":{}}`, Response, ""},
		{`{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`, Response, ""},
		{`{"jsonrpc":"\u0032.0","id":1,"method":"tools\/call"}`, Request, ""}, // escapes read as JSON reads them
		{`{"jsonrpc":"1.0","id":1,"method":"ping"}`, 0, `"jsonrpc" must be "2.0"`},
		{`{"jsonrpc":2.0,"id":1,"method":"ping"}`, 0, `"jsonrpc" must be "2.0"`},
		{`{"id":1,"method":"ping"}`, 0, `"jsonrpc" must be "2.0"`},
		{`{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, 0, "string or an integer"},
		{`{"jsonrpc":"2.0","id":1e3,"method":"ping"}`, 0, "string or an integer"},
		{`{"jsonrpc":"2.0","id":{},"method":"ping"}`, 0, "string or an integer"},
		{`{"jsonrpc":"2.0","id":99999999999999999999,"method":"ping"}`, 0, "out of range"},
		{`{"jsonrpc":"2.0","id":null,"method":"ping"}`, 0, "cannot be null"},
		{`{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}`, 0, "must be an object"},
		{`{"jsonrpc":"2.0","id":1,"method":""}`, 0, "non-empty string"},
		{`{"jsonrpc":"2.0","id":1,"method":"x","result":{}}`, 0, "cannot carry"},
		{`{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`, 0, "neither"},
		{`{"jsonrpc":"2.0","result":{}}`, 0, "needs an id"},
		{`{"jsonrpc":"2.0","id":1,"error":"bad"}`, 0, "must be an object"},
		{`{"jsonrpc":"2.0","id":1,"method":"x","extra":true}`, 0, `unknown member "extra"`},
	} {
		m, err := Parse([]byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%s) = %v, want error %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || m.Kind != c.kind {
			t.Errorf("Parse(%s) = %v, %v; want kind %v", c.in, m, err, c.kind)
		}
	}
}

func TestIDs(t *testing.T) {
	a, _ := ParseID([]byte(`"a"`))
	b, _ := ParseID([]byte(`"\u0061"`))
	n, _ := ParseID([]byte(`1`))
	s, _ := ParseID([]byte(`"1"`))
	if a.Key() != b.Key() {
		t.Errorf("escaped and plain string ids differ")
	}
	if n.Key() == s.Key() {
		t.Errorf("the number 1 and the string \"1\" are the same id")
	}
	if string(b.Raw()) != `"\u0061"` {
		t.Errorf("Raw = %s, want the id as sent", b.Raw())
	}
}

func TestErrorResponse(t *testing.T) {
	id, _ := ParseID([]byte(`"x\"y"`))
	b := ErrorResponse(id, &Error{Code: -32602, Message: "Unknown tool: \"a\"\n"})
	if err := Validate(b); err != nil {
		t.Fatalf("ErrorResponse is not strict JSON: %v: %s", err, b)
	}
	var m struct {
		ID    string `json:"id"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.ID != `x"y` || m.Error.Code != -32602 || m.Error.Message != "Unknown tool: \"a\"\n" {
		t.Errorf("ErrorResponse = %s", b)
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

// FuzzParse: any frame either parses or is refused with an error, and a
// parsed message has a consistent kind.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, `{"jsonrpc":"2.0","id":1,"result":{}}`, `{"jsonrpc":"2.0","method":"n"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if Validate(b) != nil || TypeOf(trimSpace(b)) != "object" {
			return
		}
		m, err := Parse(trimSpace(b))
		if err != nil {
			return
		}
		// What Parse read (without copying names) is what encoding/json reads.
		var std struct {
			Method *string
			ID     any
		}
		if err := json.Unmarshal(b, &std); err == nil {
			if std.Method != nil && *std.Method != m.Method {
				t.Fatalf("method %q, encoding/json says %q: %q", m.Method, *std.Method, b)
			}
			if s, ok := std.ID.(string); ok && m.ID.Key() != (IDKey{str: true, v: s}) {
				t.Fatalf("id key %+v, encoding/json says %q: %q", m.ID.Key(), s, b)
			}
		}
		switch m.Kind {
		case Request:
			if m.ID.IsZero() || m.Method == "" {
				t.Fatalf("request without id or method: %q", b)
			}
		case Notification:
			if m.Method == "" {
				t.Fatalf("notification without method: %q", b)
			}
		case Response:
			if (m.Result == nil) == (m.Error == nil) {
				t.Fatalf("response with neither or both: %q", b)
			}
		default:
			t.Fatalf("no kind: %q", b)
		}
	})
}

// Ids a peer could read as another id are refused: -0 (0 to JavaScript),
// fractions and exponents (29.0 is 29 to JavaScript), integers beyond
// 2^53-1 (2^53+1 is 2^53 to JavaScript). The control: their neighbours
// that no peer reads two ways are ids.
func TestIDsCanonical(t *testing.T) {
	for _, c := range []struct {
		id string
		ok bool
	}{
		{`0`, true}, {`-1`, true}, {`29`, true}, {`9007199254740991`, true}, {`-9007199254740991`, true},
		{`"29.0"`, true}, {`"-0"`, true}, {`"9007199254740993"`, true},
		{`-0`, false}, {`29.0`, false}, {`29.5`, false}, {`2.9e1`, false}, {`1e3`, false}, {`1E3`, false}, {`0e0`, false}, {`-0.0`, false},
		{`9007199254740992`, false}, {`9007199254740993`, false}, {`-9007199254740992`, false}, {`99999999999999999999`, false},
	} {
		_, err := ParseID([]byte(c.id))
		if (err == nil) != c.ok {
			t.Errorf("ParseID(%s): err %v, want ok %v", c.id, err, c.ok)
		}
		if c.ok {
			continue
		}
		// Parse refuses the message and keeps the id as sent for the refusal.
		_, err = Parse([]byte(`{"jsonrpc":"2.0","id":` + c.id + `,"method":"ping"}`))
		var inv *InvalidError
		if !errors.As(err, &inv) || string(inv.ID.Raw()) != c.id || !inv.Request {
			t.Errorf("Parse with id %s: %v (%+v), want an InvalidError echoing the id", c.id, err, inv)
		}
	}
	// Every id two peers can tell apart has its own key; ids no peer can
	// tell apart share one.
	keys := map[IDKey]string{}
	for _, id := range []string{`1`, `"1"`, `-1`, `0`, `"0"`, `"-0"`, `9007199254740991`, `"a"`, `"A"`} {
		got, err := ParseID([]byte(id))
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := keys[got.Key()]; dup {
			t.Errorf("ids %s and %s share a key", prev, id)
		}
		keys[got.Key()] = id
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
