package jsonrpc

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// sketchOf finds the id wherever it is, as a peer's parser takes it, and
// says what kind of message the frame was meant to be, also when strict
// decoding refuses it before the id (the TypeScript SDK writes the id
// last) and when it is cut short.
func TestRecover(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 600) + "1" + strings.Repeat("}", 600)
	for _, c := range []struct {
		in, id string
		kind   Kind
	}{
		{`{"jsonrpc":"2.0","id":7,"method":"x","params":{"a":1,"a":2}}`, "7", Request},
		// The TypeScript SDK's order: the id after what is refused.
		{`{"method":"tools/call","params":{"name":"echo","arguments":{"Lang":"en","lang":"de"}},"jsonrpc":"2.0","id":10}`, "10", Request},
		{`{"result":{"structuredContent":{"Set-Cookie":"a=1","set-cookie":"b=2"}},"jsonrpc":"2.0","id":5}`, "5", Response},
		{`{"error":{"code":1,"message":"x","message":"y"},"jsonrpc":"2.0","id":"e"}`, `"e"`, Response},
		// Each thing strict decoding refuses, before the id.
		{"{\"a\":\"\xff\",\"id\":3,\"method\":\"m\"}", "3", Request},
		{`{"params":{"x":"\ud800"},"id":"s","method":"m"}`, `"s"`, Request},
		{`{"params":` + deep + `,"id":4,"method":"m"}`, "4", Request},
		{`{"params":{},"Method":"x","id":4,"result":{}}`, "4", Response},
		{`{"x":1,"id":4,"method":"m"}`, "4", Request},
		{"{\"params\":{\"s\":\"a\tb\"},\"id\":4,\"method\":\"m\"}", "4", Request},
		// Strings that hold what looks like structure.
		{`{"params":{"s":"}]{[\",\"id\":99"},"id":6,"method":"m"}`, "6", Request},
		{`{"params":{"s":"a\\","t":"\\\""},"id":6,"method":"m"}`, "6", Request},
		// The last of several ids, as JavaScript, Python and Go take it.
		{`{"id":1,"method":"m","id":2}`, "2", Request},
		{`{"id":1,"id":{"a":1},"method":"m"}`, "null", Request},
		// A name with escapes is the name.
		{`{"\u0069d":9,"m\u0065thod":"m"}`, "9", Request},
		{`{"Id":9,"method":"m"}`, "null", Notification},
		// Ids ParseID refuses are echoed as sent; others are unusable.
		{`{"id":1.5,"method":"m"}`, "1.5", Request},
		{`{"id":-0,"x":1,"x":2,"result":{}}`, "-0", Response},
		{`{"id":true,"method":"m"}`, "null", Request},
		{"{\"id\":\"a\tb\",\"method\":\"m\"}", "null", Request},
		{`{"id":"` + strings.Repeat("x", idKeep) + `","method":"m"}`, "null", Request},
		// Cut short, or broken after the id.
		{`{"id":"q","method":"x","params":{"text":"cut off her`, `"q"`, Request},
		{`{"method":"x","params":{"a":`, "null", Notification},
		{`{"id":8,"method":"m" "x"}`, "8", Request},
		// Trailing data is not the message's.
		{`{"id":1,"method":"m"} {"id":2,"result":{}}`, "1", Request},
		// A carriage return, or another control character, where a
		// reader of the peer's ends a line.
		{"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\",\"params\":{\"_x\":\r{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\"}\r}}", "5", Request},
		{"{\"id\":5,\f\"method\":\"ping\"}", "5", Request},
		{`{"id":5}`, "5", 0},
		{`garbage`, "null", 0},
		{`"a string"`, "null", 0},
	} {
		sk := sketchOf([]byte(c.in))
		if got := sk.ID.String(); got != c.id || sk.Kind() != c.kind || sk.Batch {
			t.Errorf("sketchOf(%.80s) = id %s kind %v batch %v, want id %s kind %v", c.in, got, sk.Kind(), sk.Batch, c.id, c.kind)
		}
	}
}

// A batch: each element on its own, where it lies in the frame, and
// whether its elements can be told apart.
func TestRecoverBatch(t *testing.T) {
	for _, c := range []struct {
		in    string
		elems string // id:kind of each element
		whole bool
	}{
		{`[{"id":1,"method":"a"},{"id":2,"result":{}},5,"s",[1,{"id":3}],{"method":"n"}]`, "1:request 2:response null:invalid null:invalid null:invalid null:notification", true},
		{`[{"id":1,"method":"a","params":{"X":1,"x":2}}, {"method":"b","id":2}]`, "1:request 2:request", true},
		{`[]`, "", true},
		{`[{"id":1,"method":"a"},]`, "1:request", false},
		{`[{"id":1,"method":"a"}] x`, "1:request", false},
		{"[{\"id\":1,\"method\":\"a\"},\f{\"id\":2,\"method\":\"b\"}]", "1:request 2:request", false},
		{`[{"id":1,"method":"a"},{"id":2,"method":`, "1:request 2:invalid", false},
	} {
		sk := sketchOf([]byte(c.in))
		var got []string
		for _, e := range sk.Elements {
			got = append(got, e.ID.String()+":"+e.Kind().String())
			if e.End > 0 {
				if el := c.in[e.Start:e.End]; !json.Valid([]byte(el)) || strings.TrimSpace(el) != el {
					t.Errorf("%s: element %q is not cut where it lies", c.in, el)
				}
			}
		}
		if !sk.Batch || strings.Join(got, " ") != c.elems || sk.Whole != c.whole {
			t.Errorf("sketchOf(%s) = batch %v %q whole %v, want %q whole %v", c.in, sk.Batch, got, sk.Whole, c.elems, c.whole)
		}
	}
}

// FuzzRecover: sketchOf never fails; read in pieces it finds what it finds
// read whole (a frame over the bound is read as it streams past); and on
// a valid object it reads the members Go's encoding/json reads.
func FuzzRecover(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, `{"result":{"a":"\"}"},"id":"x"}`, `[{"id":1,"method":"a"},{"id":2,"result":{}}]`, "{\"a\":\"\xff\",\"id\":3}", `{"\u0069d":9}`} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		whole := sketchOf(b)
		var l lenient
		n := int(step%16) + 1
		for i := 0; i < len(b); i += n {
			l.feed(b[i:min(i+n, len(b))])
		}
		pieces := l.sketch()
		if !sameSketch(whole, pieces) {
			t.Fatalf("read whole %+v, in pieces of %d %+v: %q", whole, n, pieces, b)
		}
		if jsontext.Validate(b) != nil || jsontext.TypeOf(trimSpace(b)) != "object" {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("json.Unmarshal of a valid object: %v", err)
		}
		id, hasID := m["id"]
		_, method := m["method"]
		_, result := m["result"]
		_, isErr := m["error"]
		if whole.HasID != hasID || whole.Method != method || whole.Reply != (result || isErr) || !whole.Whole {
			t.Fatalf("sketchOf %+v, encoding/json %v: %q", whole, m, b)
		}
		if want := idOf(id); hasID && whole.ID != want {
			t.Fatalf("id %v, want %v: %q", whole.ID, want, b)
		}
	})
}

func sameSketch(a, b sketch) bool {
	if a.ID != b.ID || a.HasID != b.HasID || a.Method != b.Method || a.Reply != b.Reply || a.Batch != b.Batch || a.Whole != b.Whole ||
		a.Start != b.Start || a.End != b.End || len(a.Elements) != len(b.Elements) {
		return false
	}
	for i := range a.Elements {
		if !sameSketch(a.Elements[i], b.Elements[i]) {
			return false
		}
	}
	return true
}

// A frame of many tiny elements keeps a bounded sketch: the first
// BatchKeep elements, the rest counted; so does one read in pieces past
// the size bound. Such a sketch is never Whole: the elements past the
// bound are not there to be passed on.
func TestRecoverBatchBound(t *testing.T) {
	n := 3 * BatchKeep
	frame := []byte("[" + strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"ping"},`, n-1) + `1]`)
	sk := sketchOf(frame)
	if len(sk.Elements) != BatchKeep || sk.Cut != n-BatchKeep || sk.Whole {
		t.Errorf("sketchOf: %d elements, %d cut, whole %v; want %d, %d, false", len(sk.Elements), sk.Cut, sk.Whole, BatchKeep, n-BatchKeep)
	}
	if e := sk.Elements[BatchKeep-1]; e.Kind() != Request || string(frame[e.Start:e.End]) != `{"jsonrpc":"2.0","id":1,"method":"ping"}` {
		t.Errorf("the last element kept: %+v", e)
	}
	var l lenient
	l.feed([]byte("["))
	for range 1000 {
		l.feed([]byte(strings.Repeat(`"x",`, 1000)))
	}
	if sk := l.sketch(); len(sk.Elements) != BatchKeep || sk.Cut != 1000*1000-BatchKeep {
		t.Errorf("read in pieces: %d elements kept, %d cut", len(sk.Elements), sk.Cut)
	}
	// The control: a batch of BatchKeep elements is kept whole.
	frame = []byte("[" + strings.Repeat(`1,`, BatchKeep-1) + `1]`)
	if sk := sketchOf(frame); len(sk.Elements) != BatchKeep || sk.Cut != 0 || !sk.Whole {
		t.Errorf("a batch at the bound: %d elements, %d cut, whole %v", len(sk.Elements), sk.Cut, sk.Whole)
	}
}
