package jsonrpc

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

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
	b := errorResponse(id, &Error{Code: -32602, Message: "Unknown tool: \"a\"\n"})
	if err := jsontext.Validate(b); err != nil {
		t.Fatalf("errorResponse is not strict JSON: %v: %s", err, b)
	}
	var m struct {
		ID    string `json:"id"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.ID != `x"y` || m.Error.Code != -32602 || m.Error.Message != "Unknown tool: \"a\"\n" {
		t.Errorf("errorResponse = %s", b)
	}
}

// FuzzParse: any frame either parses or is refused with an error, and a
// parsed message has a consistent kind.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, `{"jsonrpc":"2.0","id":1,"result":{}}`, `{"jsonrpc":"2.0","method":"n"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if jsontext.Validate(b) != nil || jsontext.TypeOf(trimSpace(b)) != "object" {
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
		var inv *invalidError
		if !errors.As(err, &inv) || string(inv.ID.Raw()) != c.id || !inv.Request {
			t.Errorf("Parse with id %s: %v (%+v), want an invalidError echoing the id", c.id, err, inv)
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

func trimSpace(b []byte) []byte { return []byte(strings.TrimSpace(string(b))) }

// ParseID is total: whatever bytes it is given, an id or an error, never
// a panic. A lone quote once sliced text[1:0]; its neighbours are here
// too, with the ids that are fine as controls.
func TestParseIDTotal(t *testing.T) {
	for _, c := range []struct {
		in  string
		key string // "" when refused
	}{
		{``, ""},
		{`"`, ""},
		{`"\`, ""},
		{`"\"`, ""},
		{`"a`, ""},
		{`a"`, ""},
		{`"a"b"`, ""},
		{`"a" `, ""},
		{` "a"`, ""},
		{`"a""b"`, ""},
		{"\"\xff\"", ""},
		{"\"\x01\"", ""},
		{`"\ud800"`, ""},
		{`"\x41"`, ""},
		{`-`, ""},
		{`--1`, ""},
		{`01`, ""},
		{`-01`, ""},
		{`1 `, ""},
		{`1-`, ""},
		{`99999999999999999999999999999999999999999`, ""},
		{`-99999999999999999999999999999999999999999`, ""},
		{`[1]`, ""},
		{`{"a":1}`, ""},
		{`["a"]`, ""},
		{`null`, ""},
		{`true`, ""},
		{`""`, "s:"},
		{`"a"`, "s:a"},
		{`"\u0061\""`, `s:a"`},
		{`"é"`, "s:é"},
		{`7`, "n:7"},
		{`-9007199254740991`, "n:-9007199254740991"},
	} {
		id, err := ParseID([]byte(c.in))
		got := ""
		if err == nil {
			got = "n:" + id.key.v
			if id.key.str {
				got = "s:" + id.key.v
			}
		}
		if got != c.key {
			t.Errorf("ParseID(%q) = %q, %v; want %q", c.in, got, err, c.key)
		}
	}
}

// FuzzParseID: ParseID never panics; an id it accepts is valid JSON that
// encoding/json reads as the same string or integer, and its text is
// what was sent.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{`"`, `"a"`, `"\u0061"`, `1`, `-0`, `29.0`, `9007199254740992`, `"\ud83d\ude00"`, ``, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseID(b)
		if err != nil {
			return
		}
		if string(id.Raw()) != string(b) {
			t.Fatalf("ParseID(%q).Raw() = %q", b, id.Raw())
		}
		var v any
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("ParseID accepted %q, encoding/json: %v", b, err)
		}
		switch v := v.(type) {
		case string:
			if !id.key.str || id.key.v != v {
				t.Fatalf("ParseID(%q) key %+v, encoding/json reads %q", b, id.key, v)
			}
		case json.Number:
			if id.key.str || id.key.v != v.String() {
				t.Fatalf("ParseID(%q) key %+v, encoding/json reads %s", b, id.key, v)
			}
		default:
			t.Fatalf("ParseID accepted %q, a %T", b, v)
		}
	})
}
