package profiles

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

const entryProfile = `
[tools]
deny = ["delete_*", "secret"]
[tools.args."read_*"]
path = { within = ["/proj"] }
[tools.args."*"]
path = { max_len = 40 }
[prompts]
deny = ["internal_*"]
[resources]
allow = ["file:///proj/**"]
deny = ["file:///proj/.env"]
`

// Entry says of each entry what the list filter did with it, and by the
// same rule: entries the filter kept are shown, the others hidden, also
// for names a server maps to a denied one (case, Unicode folding) and
// URIs that canonicalise to a denied one.
func TestEntryAgreesWithFilter(t *testing.T) {
	_, pol, err := compileProfile(t, entryProfile)
	if err != nil {
		t.Fatal(err)
	}
	lists := []struct {
		method, field, key string
		names              []string
	}{
		{"tools/list", "tools", "name", []string{"read_file", "delete_file", "DELETE_file", "ſecret", "secret", "echo"}},
		{"prompts/list", "prompts", "name", []string{"greet", "internal_x", "INTERNAL_y"}},
		{"resources/list", "resources", "uri", []string{"file:///proj/a", "file:///proj/.env", "file:///proj/x/../.env", "file:///etc/passwd", "FILE:///proj/b"}},
		{"resources/templates/list", "resourceTemplates", "uriTemplate", []string{"file:///proj/{name}", "db://{table}"}},
	}
	for _, l := range lists {
		var entries []string
		for _, n := range l.names {
			b, _ := json.Marshal(map[string]any{l.key: n, "name": n})
			entries = append(entries, string(b))
		}
		v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"`+l.method+`","params":{}}`)
		v = reply(t, pol, &jsonrpc.Call{Method: l.method, State: v.State}, `{"jsonrpc":"2.0","id":1,"result":{"`+l.field+`":[`+strings.Join(entries, ",")+`]}}`)
		kept := string(v.Frame)
		if v.Frame == nil {
			kept = strings.Join(entries, ",")
		}
		for i, n := range l.names {
			e, err := pol.Entry(l.field, n)
			if err != nil {
				t.Fatal(err)
			}
			if filtered := strings.Contains(kept, entries[i]); e.Shown != filtered || e.Rule == "" || e.Pinned {
				t.Errorf("%s %q: Entry = %+v, but the filter kept it: %v", l.field, n, e, filtered)
			}
		}
	}
	for _, c := range []struct{ field, name, rule string }{
		{"tools", "DELETE_file", `tools.deny "delete_*" (`},
		{"tools", "echo", "tools.allow absent: all allowed"},
		{"resources", "file:///etc/passwd", "resources.allow: no glob matches"},
		{"resources", "file:///proj/x/../.env", `resources.deny "file:///proj/.env" (`},
	} {
		if e, _ := pol.Entry(c.field, c.name); !strings.Contains(e.Rule, c.rule) {
			t.Errorf("Entry(%s, %q).Rule = %q, want %q", c.field, c.name, e.Rule, c.rule)
		}
	}
	if _, err := pol.Entry("widgets", "x"); err == nil {
		t.Error("Entry of an unknown list: no error")
	}
}

// With the surface pinned, an entry the rules allow that pinning
// withheld is hidden, as pinned, with pinning's rule; the control: the
// same entry unpinned is shown.
func TestEntryPinned(t *testing.T) {
	for _, pinned := range []bool{false, true} {
		_, pol, err := compileProfile(t, entryProfile)
		if err != nil {
			t.Fatal(err)
		}
		if pinned {
			pol.SetPins(approvedNone{})
		}
		v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`)
		reply(t, pol, &jsonrpc.Call{Method: "tools/list", State: v.State}, `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo","inputSchema":{"type":"object"}}]}}`)
		e, _ := pol.Entry("tools", "echo")
		want := EntryVerdict{Shown: true, Rule: "tools.allow absent: all allowed"}
		if pinned {
			want = EntryVerdict{Rule: "tools: changed since trusted (new)", Pinned: true}
		}
		if e != want {
			t.Errorf("pinned %v: Entry = %+v, want %+v", pinned, e, want)
		}
	}
}

// ArgsFor lists the constraints a call is checked against: every key
// that matches the name, as a call matches it (by key: READ_x is read_x).
func TestArgsFor(t *testing.T) {
	_, pol, err := compileProfile(t, entryProfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tool, want string }{
		{"read_file", `[* path max_len 40 tools.args."*".path (FILE:7) read_* path within /proj tools.args."read_*".path (FILE:5)]`},
		{"READ_file", `[* path max_len 40 tools.args."*".path (FILE:7) read_* path within /proj tools.args."read_*".path (FILE:5)]`},
		{"echo", `[* path max_len 40 tools.args."*".path (FILE:7)]`},
	} {
		var got []string
		file := ""
		for _, a := range pol.ArgsFor(c.tool) {
			file = a.Rule.From.File
			got = append(got, a.Key, a.Arg, describe(a.Rule), a.Name)
		}
		if g := strings.ReplaceAll(fmt.Sprint(got), file, "FILE"); g != c.want {
			t.Errorf("ArgsFor(%q) = %s\nwant %s", c.tool, g, c.want)
		}
	}
}

func describe(r ArgRule) string {
	if r.Within != nil {
		return "within " + strings.Join(r.Within, ", ")
	}
	return fmt.Sprintf("max_len %d", r.MaxLen)
}
