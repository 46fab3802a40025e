package profiles

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// reply asks pol about the server's answer to a call of method.
func reply(t *testing.T, pol *Policy, c *jsonrpc.Call, frame string) jsonrpc.Verdict {
	t.Helper()
	return pol.Reply(jsonrpc.Down, c, parseFrame(t, frame))
}

// A member a server written with Go's encoding/json reads as one the
// policy reads is refused like a duplicate: name, arguments, uri, a
// constrained argument's name (the long s and the Kelvin sign among the
// spellings), _meta and its keys, clientInfo, capabilities. The control:
// the same frames in the one spelling go on, and so do arguments no
// constraint names, whatever their case.
func TestOneSpelling(t *testing.T) {
	pol := testPolicy(t, "[tools.args.read_file]\npath = { within = [\"/proj\"] }\npaths = { within = [\"/proj\"] }\n[tools.args.kv]\nkey = { enum = [\"a\"] }\n[client]\nsampling = false\n")
	meta := func(k string) string { return `"_meta":{` + k + `:"2025-11-25"}` }
	for _, c := range []struct{ method, params, ok string }{
		{"tools/call", `{"Name":"read_file","arguments":{}}`, `{"name":"read_file","arguments":{}}`},
		{"tools/call", `{"name":"read_file","Arguments":{"path":"/etc/passwd"}}`, `{"name":"read_file","arguments":{"path":"/proj/a"}}`},
		{"tools/call", `{"name":"read_file","arguments":{"Path":"/etc/passwd"}}`, `{"name":"read_file","arguments":{"path":"/proj/a"}}`},
		{"tools/call", `{"name":"read_file","arguments":{"PATH":"/etc/passwd"}}`, `{"name":"read_file","arguments":{"path":"/proj/a"}}`},
		{"tools/call", `{"name":"read_file","arguments":{"path\u017f":["/etc/passwd"]}}`, `{"name":"read_file","arguments":{"paths":["/proj/a"]}}`},
		{"tools/call", `{"name":"kv","arguments":{"\u212aey":"b"}}`, `{"name":"kv","arguments":{"key":"a"}}`},
		{"resources/read", `{"URI":"file:///etc/passwd"}`, `{"uri":"file:///proj/a"}`},
		{"prompts/get", `{"NAME":"p"}`, `{"name":"p"}`},
		{"tools/list", `{` + meta(`"IO.modelcontextprotocol/protocolVersion"`) + `}`, `{` + meta(`"io.modelcontextprotocol/protocolVersion"`) + `}`},
		{"tools/list", `{"_Meta":{}}`, `{"_meta":{}}`},
		{"tools/list", `{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"Sampling":{}}}}`, `{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"sampling":{}}}}`},
		{"tools/list", `{"_meta":{"io.modelcontextprotocol/clientInfo":{"NAME":"x"}}}`, `{"_meta":{"io.modelcontextprotocol/clientInfo":{"name":"x"}}}`},
		{"completion/complete", `{"ref":{"type":"ref/prompt","Name":"p"}}`, `{"ref":{"type":"ref/prompt","name":"p"}}`},
		{"completion/complete", `{"REF":{"type":"ref/prompt","name":"p"}}`, `{"ref":{"type":"ref/prompt","name":"p"}}`},
	} {
		v := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, c.method, c.params))
		if v.Action != jsonrpc.Refuse || v.Err.Code != jsonrpc.CodeParseError || !strings.Contains(v.Err.Message, "differs only in case") {
			t.Errorf("%s %s: %+v, want it refused as two spellings", c.method, c.params, v)
		}
		if v := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, c.method, c.ok)); v.Action != jsonrpc.Forward {
			t.Errorf("control %s %s: %+v, want it forwarded", c.method, c.ok, v)
		}
	}
	for _, args := range []string{`{"Mode":1}`, `{"PATHS_EXTRA":1,"path":"/proj/a"}`} {
		if v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":`+args+`}}`); v.Action != jsonrpc.Forward {
			t.Errorf("unconstrained arguments %s: %+v", args, v)
		}
	}
	initialize := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"Sampling":{}},"clientInfo":{"name":"c"}}}`
	if v := message(t, pol, jsonrpc.Up, initialize); v.Action != jsonrpc.Refuse || !strings.Contains(v.Err.Message, `"Sampling"`) {
		t.Errorf("initialize with capabilities.Sampling: %+v", v)
	}
}

// A deny glob denies a tool, prompt or resource template when it matches
// any spelling of the name (a server may look names up folding case),
// before and after a listing; allow must match the name as written. The
// control: names no spelling of which the glob matches stay allowed.
func TestDenyFolded(t *testing.T) {
	pol := testPolicy(t, "[tools]\ndeny = [\"hidden\", \"secret_*\", \"[!a]b\"]\n[prompts]\ndeny = [\"internal_*\"]\n[resources]\ndeny = [\"db://host/secret/**\"]\n[tools.args.read_file]\npath = { within = [\"/proj\"] }\n")
	for _, c := range []struct {
		name   string
		denied bool
	}{
		{"hidden", true}, {"HIDDEN", true}, {"Hidden", true}, {"SECRET_ADMIN", true}, {"\u017fecret_admin", true}, {"Secret_x", true},
		{"Ab", true}, // matches [!a]b as written; "ab" through its spelling "Ab"
		{"ab", true}, {"ac", false}, {"hidden2", false}, {"echo", false}, {"hidde", false}, {"sekret_admin", false},
	} {
		v := message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q}}`, c.name))
		if (v.Action == jsonrpc.Refuse) != c.denied {
			t.Errorf("tool %q: %+v, want denied %v", c.name, v, c.denied)
		}
		if c.denied && v.Err.Message != "Unknown tool: "+c.name {
			t.Errorf("tool %q: %q", c.name, v.Err.Message)
		}
	}
	if v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"INTERNAL_P"}}`); v.Action != jsonrpc.Refuse {
		t.Errorf("prompt INTERNAL_P: %+v", v)
	}
	// A constraint applies to every spelling of the tools its key names.
	if v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"READ_FILE","arguments":{"path":"/etc/passwd"}}}`); v.Action == jsonrpc.Forward {
		t.Errorf("READ_FILE outside /proj: %+v", v)
	}
	// Lists hide every spelling too.
	v := reply(t, pol, listCall(pol), `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"HIDDEN"},{"name":"echo"},{"name":"Secret_A"}]}}`)
	if v.Frame == nil || strings.Contains(string(v.Frame), "HIDDEN") || strings.Contains(string(v.Frame), "Secret") || !strings.Contains(string(v.Frame), "echo") {
		t.Errorf("tools/list: %s", v.Frame)
	}
	v = reply(t, pol, &jsonrpc.Call{Method: "resources/templates/list"}, `{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"db://host/SECRET/{id}","name":"a"},{"uriTemplate":"db://host/public/{id}","name":"b"}]}}`)
	if v.Frame == nil || strings.Contains(string(v.Frame), "SECRET") || !strings.Contains(string(v.Frame), "public") {
		t.Errorf("resources/templates/list: %s", v.Frame)
	}
	// Allow is not folded: "ECHO" is not "echo" where only echo is allowed.
	allow := testPolicy(t, "[tools]\nallow = [\"echo\"]\n")
	if v := message(t, allow, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ECHO"}}`); v.Action != jsonrpc.Refuse {
		t.Errorf("ECHO where only echo is allowed: %+v", v)
	}
}

// Input requests are checked wherever a result carries them, whatever
// its resultType, in every protocol version; a result of a method that
// cannot carry them is refused; tasks/get results and notifications
// carry them too. The control: the same results without a denied request
// go on as they came.
func TestInputRequestsEverywhere(t *testing.T) {
	pol := testPolicy(t, "[client]\nsampling = false\nelicitation = false\nroots = false\n")
	allowed := testPolicy(t, "[client]\nsampling = true\nelicitation = true\nroots = true\n")
	req := func(method string) string {
		return `{"r1":{"method":"` + method + `","params":{}}}`
	}
	for _, rt := range []string{``, `"resultType":"complete",`, `"resultType":"task",`, `"resultType":"input_required",`} {
		for _, c := range []struct {
			method string
			code   int
		}{{"sampling/createMessage", -1}, {"roots/list", -32601}} {
			frame := `{"jsonrpc":"2.0","id":1,"result":{` + rt + `"inputRequests":` + req(c.method) + `}}`
			for _, call := range []string{"tools/call", "prompts/get", "resources/read", "tasks/get"} {
				v := reply(t, pol, &jsonrpc.Call{Method: call}, frame)
				if v.Action != jsonrpc.Refuse || v.Err.Code != c.code {
					t.Errorf("%s result %s: %+v, want refused with %d", call, frame, v, c.code)
				}
				if v := reply(t, allowed, &jsonrpc.Call{Method: call}, frame); v.Action != jsonrpc.Forward || v.Frame != nil {
					t.Errorf("control, %s allowed: %+v", c.method, v)
				}
			}
		}
		frame := `{"jsonrpc":"2.0","id":1,"result":{` + rt + `"inputRequests":` + req("elicitation/create") + `,"requestState":"s"}}`
		v := reply(t, pol, &jsonrpc.Call{Method: "tools/call", Subject: "t"}, frame)
		if v.Action != jsonrpc.Forward || v.Frame == nil || strings.Contains(string(v.Frame), "elicitation") {
			t.Errorf("elicitation in %s: %+v, want it withheld", frame, v)
		}
	}
	// Results that cannot carry input requests are refused with them.
	for _, call := range []string{"tools/list", "initialize", "ping", "server/discover", "tasks/result", "completion/complete"} {
		frame := `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"protocolVersion":"2025-11-25","inputRequests":` + req("elicitation/create") + `}}`
		if v := reply(t, allowed, &jsonrpc.Call{Method: call}, frame); v.Action != jsonrpc.Refuse {
			t.Errorf("%s result with inputRequests: %+v, want it refused", call, v)
		}
	}
	// One spelling: a client that folds case reads these as the real thing.
	for _, frame := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"InputRequests":` + req("sampling/createMessage") + `}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"inputRequests":{"r1":{"METHOD":"sampling/createMessage","params":{}}}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"inputRequests":{"r1":{"method":"elicitation/create","Params":{}}}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"ResultType":"input_required"}}`,
	} {
		if v := reply(t, allowed, &jsonrpc.Call{Method: "tools/call"}, frame); v.Action != jsonrpc.Refuse {
			t.Errorf("%s: %+v, want it refused", frame, v)
		}
	}
	// A task's final result carries none; a task notification with a
	// denied request is dropped.
	if v := reply(t, allowed, &jsonrpc.Call{Method: "tasks/get"}, `{"jsonrpc":"2.0","id":1,"result":{"status":"completed","result":{"inputRequests":`+req("roots/list")+`}}}`); v.Action != jsonrpc.Refuse {
		t.Errorf("a task's result with input requests: %+v", v)
	}
	note := `{"jsonrpc":"2.0","method":"notifications/tasks","params":{"taskId":"t","status":"input_required","inputRequests":` + req("sampling/createMessage") + `}}`
	if v := message(t, pol, jsonrpc.Down, note); v.Action != jsonrpc.Drop {
		t.Errorf("task notification with a denied request: %+v", v)
	}
	if v := message(t, allowed, jsonrpc.Down, note); v.Action != jsonrpc.Forward {
		t.Errorf("control, allowed: %+v", v)
	}
}

// The session's protocol version is fixed by initialize's result (or the
// first modern request the server answers): a request naming another in
// its _meta is refused, a second initialize too, and batches stay as the
// fixed version has them.
func TestVersionFixed(t *testing.T) {
	pol := testPolicy(t, "")
	up := func(id int, method, params string) jsonrpc.Verdict {
		return message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params))
	}
	meta := func(v string) string { return `{"_meta":{"io.modelcontextprotocol/protocolVersion":"` + v + `"}}` }
	v := up(0, "initialize", `{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c"}}`)
	if v.Action != jsonrpc.Forward {
		t.Fatalf("initialize: %+v", v)
	}
	if v := up(1, "initialize", `{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c"}}`); v.Action != jsonrpc.Refuse {
		t.Errorf("a second initialize in flight: %+v", v)
	}
	if pol.Batches() {
		t.Errorf("batches before initialize's result")
	}
	reply(t, pol, &jsonrpc.Call{Method: "initialize", State: v.State}, `{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18"}}`)
	if pol.Batches() || pol.Version() != "2025-06-18" {
		t.Errorf("after the server answered 2025-06-18: batches %v, version %s", pol.Batches(), pol.Version())
	}
	for _, other := range []string{"2025-03-26", "2026-07-28", "2025-11-25"} {
		if v := up(2, "tools/list", meta(other)); v.Action != jsonrpc.Refuse || v.Err.Code != jsonrpc.CodeInvalidRequest {
			t.Errorf("_meta %s in a 2025-06-18 session: %+v", other, v)
		}
	}
	if pol.Batches() || pol.Version() != "2025-06-18" {
		t.Errorf("after the _meta attempts: batches %v, version %s", pol.Batches(), pol.Version())
	}
	if v := up(3, "tools/list", meta("2025-06-18")); v.Action != jsonrpc.Forward {
		t.Errorf("_meta naming the session's own version: %+v", v)
	}
	if v := up(4, "initialize", `{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c"}}`); v.Action != jsonrpc.Refuse {
		t.Errorf("initialize again: %+v", v)
	}

	// A dual-era client probes, is refused, and initializes.
	dual := testPolicy(t, "")
	probe := message(t, dual, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":`+meta("2026-07-28")+`}`)
	reply(t, dual, &jsonrpc.Call{Method: "server/discover", State: probe.State}, `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}`)
	if v := dual.Version(); v != "" {
		t.Errorf("after a refused probe the version is %q, want none yet", v)
	}
	init := message(t, dual, jsonrpc.Up, `{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c"}}}`)
	if init.Action != jsonrpc.Forward {
		t.Fatalf("initialize after a failed probe: %+v", init)
	}
	reply(t, dual, &jsonrpc.Call{Method: "initialize", State: init.State}, `{"jsonrpc":"2.0","id":2,"result":{"protocolVersion":"2025-03-26"}}`)
	if !dual.Batches() {
		t.Errorf("a session initialized at 2025-03-26 takes batches")
	}

	// A modern session: the first answered request fixes it.
	modern := testPolicy(t, "")
	d := message(t, modern, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":`+meta("2026-07-28")+`}`)
	reply(t, modern, &jsonrpc.Call{Method: "server/discover", State: d.State}, `{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"]}}`)
	v = message(t, modern, jsonrpc.Up, `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":`+meta("2099-01-01")+`}`)
	if v.Action != jsonrpc.Refuse || v.Err.Code != -32022 || !strings.Contains(string(v.Err.Data), `"supported":["2026-07-28"]`) {
		t.Errorf("another modern version: %+v", v)
	}
	if v := message(t, modern, jsonrpc.Up, `{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c"}}}`); v.Action != jsonrpc.Refuse {
		t.Errorf("initialize in a modern session: %+v", v)
	}
	if modern.Batches() {
		t.Errorf("batches in a modern session")
	}
}

// Only the notifications a client sends in the session's version pass;
// a tools/call without an id, and any other method, is dropped with a
// rule that counts it per method.
func TestClientNotifications(t *testing.T) {
	for _, c := range []struct {
		version string
		pass    []string
		drop    []string
	}{
		{"2025-06-18", []string{"notifications/cancelled", "notifications/progress", "notifications/initialized", "notifications/roots/list_changed"}, []string{"tools/call", "notifications/tasks/status", "notifications/x", "ping"}},
		{"2025-11-25", []string{"notifications/cancelled", "notifications/tasks/status", "notifications/initialized"}, []string{"tools/call", "prompts/get", "notifications/message"}},
		{"2026-07-28", []string{"notifications/cancelled"}, []string{"tools/call", "notifications/initialized", "notifications/progress", "notifications/roots/list_changed"}},
		{"", []string{"notifications/cancelled", "notifications/tasks/status", "notifications/initialized"}, []string{"tools/call", "notifications/x"}},
	} {
		pol := testPolicy(t, "[client]\nroots = true\n")
		if c.version != "" {
			pol.version, pol.fixed = c.version, true
		}
		for _, method := range c.pass {
			if v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","method":"`+method+`","params":{"requestId":1}}`); v.Action != jsonrpc.Forward {
				t.Errorf("%s: %s: %+v, want it passed", c.version, method, v)
			}
		}
		for _, method := range c.drop {
			v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","method":"`+method+`","params":{"name":"secret_admin"}}`)
			if v.Action != jsonrpc.Drop || v.Rule != "client notifications" || !strings.Contains(v.Note, method) {
				t.Errorf("%s: %s: %+v, want it dropped", c.version, method, v)
			}
		}
	}
}

// A URL elicitation (2025-11-25's -32042, with the pages to open in
// data.elicitations) is an error, not a request: a server answering any
// call with it reached the client around [client] elicitation = false.
// Such an error is replaced by mcpcell's own, whatever the method, the
// code's spelling (as JavaScript and Python read numbers), or a code a
// lax reader takes for a number; and so is a task that failed with it
// (tasks/get, notifications/tasks). The control: the profile that allows
// elicitation passes every one as sent, and other errors pass either way.
func TestURLElicitationError(t *testing.T) {
	denied := testPolicy(t, "[client]\nelicitation = false\n")
	allowed := testPolicy(t, "[client]\nelicitation = true\n")
	const els = `{"elicitations":[{"mode":"url","elicitationId":"e1","url":"https://evil.example/login","message":"sign in"}]}`
	errs := []string{
		`{"code":-32042,"message":"needs more","data":` + els + `}`,
		`{"code":-32042.0,"message":"needs more","data":` + els + `}`,
		`{"code":-3.2042e4,"message":"needs more"}`,
		`{"code":-32042,"message":"needs more"}`,
		`{"code":-32041.99999999999999999,"message":"read as -32042 by a float reader"}`,
		`{"code":"-32042","message":"a string pydantic reads as a number","data":` + els + `}`,
		`{"code":" -32042 ","message":"needs more"}`,
		`{"code":-32603,"message":"another code, the same pages","data":` + els + `}`,
		`{"code":-1,"message":"m","data":{"elicitations":[]}}`,
	}
	for _, method := range []string{"tools/call", "resources/read", "prompts/get", "tasks/result", "completion/complete", "ping"} {
		for _, e := range errs {
			frame := `{"jsonrpc":"2.0","id":3,"error":` + e + `}`
			v := reply(t, denied, &jsonrpc.Call{Method: method}, frame)
			if v.Action != jsonrpc.Refuse || v.Err.Code != jsonrpc.CodeInternalError || v.Err.Data != nil || v.Rule != "client.elicitation = false" || v.Note == "" {
				t.Errorf("%s answered %s: %+v, want mcpcell's -32603 in its place", method, e, v)
			} else if strings.Contains(v.Err.Message, "evil") {
				t.Errorf("%s answered %s: the page reaches the client in %q", method, e, v.Err.Message)
			}
			if v := reply(t, allowed, &jsonrpc.Call{Method: method}, frame); v.Action != jsonrpc.Forward || v.Frame != nil {
				t.Errorf("control, elicitation allowed: %s answered %s: %+v", method, e, v)
			}
		}
	}
	// Other errors pass, data and all.
	for _, e := range []string{
		`{"code":-32602,"message":"Unknown tool: x"}`,
		`{"code":-32042.5,"message":"no integer"}`,
		`{"code":32042,"message":"the other sign"}`,
		`{"code":-32603,"message":"m","data":{"elicitation":"one member that is not elicitations","url":"https://example.com"}}`,
		`{"code":-32603,"message":"m","data":["elicitations"]}`,
	} {
		if v := reply(t, denied, &jsonrpc.Call{Method: "tools/call"}, `{"jsonrpc":"2.0","id":3,"error":`+e+`}`); v.Action != jsonrpc.Forward || v.Frame != nil {
			t.Errorf("%s: %+v, want it passed", e, v)
		}
	}
	// One spelling: Go's encoding/json reads "Code" as code and
	// "Elicitations" as elicitations.
	for _, e := range []string{
		`{"Code":-32042,"message":"m"}`,
		`{"code":-32042,"message":"m","DATA":` + els + `}`,
		`{"code":-1,"message":"m","data":{"Elicitations":[{"mode":"url","url":"https://evil.example"}]}}`,
	} {
		if v := reply(t, denied, &jsonrpc.Call{Method: "tools/call"}, `{"jsonrpc":"2.0","id":3,"error":`+e+`}`); v.Action != jsonrpc.Refuse || v.Rule != "strict-json" {
			t.Errorf("%s: %+v, want it refused as two spellings", e, v)
		}
	}
	// A task that failed with a URL elicitation (the tasks extension).
	failed := `{"taskId":"t","status":"failed","error":{"code":-32042,"message":"m","data":` + els + `}}`
	if v := reply(t, denied, &jsonrpc.Call{Method: "tasks/get"}, `{"jsonrpc":"2.0","id":3,"result":`+failed+`}`); v.Action != jsonrpc.Refuse || v.Rule != "client.elicitation = false" {
		t.Errorf("tasks/get of a task failed with a URL elicitation: %+v", v)
	}
	if v := reply(t, allowed, &jsonrpc.Call{Method: "tasks/get"}, `{"jsonrpc":"2.0","id":3,"result":`+failed+`}`); v.Action != jsonrpc.Forward {
		t.Errorf("control, elicitation allowed: tasks/get: %+v", v)
	}
	if v := reply(t, denied, &jsonrpc.Call{Method: "tasks/get"}, `{"jsonrpc":"2.0","id":3,"result":{"taskId":"t","status":"failed","error":{"code":-32603,"message":"m"}}}`); v.Action != jsonrpc.Forward {
		t.Errorf("tasks/get of a task failed otherwise: %+v", v)
	}
	note := `{"jsonrpc":"2.0","method":"notifications/tasks","params":` + failed + `}`
	if v := message(t, denied, jsonrpc.Down, note); v.Action != jsonrpc.Drop || v.Rule != "client.elicitation = false" {
		t.Errorf("notifications/tasks of a task failed with a URL elicitation: %+v", v)
	}
	if v := message(t, allowed, jsonrpc.Down, note); v.Action != jsonrpc.Forward {
		t.Errorf("control, elicitation allowed: notifications/tasks: %+v", v)
	}
}
