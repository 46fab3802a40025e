package profiles

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// The decisions of the README's "What happens on the wire", asked of the
// Policy as the interposer asks them (Message for requests and
// notifications, Reply for responses), in every protocol era the policy
// tells apart, without a process.

// eras are the protocol versions a session can be in, as the policy
// tells them apart: none known yet, before 2025-03-26, batches
// (2025-03-26), between, isError for arguments and tasks/status
// (2025-11-25), and _meta on every request with no initialize
// (2026-07-28).
var eras = []string{"", "2024-11-05", V20250326, "2025-06-18", V20251125, V20260728}

// wireProfile is the profile of most cases; $P stands for its path in
// a rule. Line numbers matter: rules name them.
const wireProfile = `[tools]
allow = ["read_*", "echo"]
deny = ["read_secret*"]
[prompts]
deny = ["hidden_*"]
[resources]
deny = ["file:///secret/**"]
[tools.args.read_file]
path = { within = ["/proj"] }
mode = { enum = ["r", "rb"] }
tag = { match = "[a-z]+", max_len = 3 }
`

// openProfile allows the client's capabilities and names one client.
const openProfile = `[client]
sampling = true
elicitation = true
roots = true
names = ["c"]
`

// verdict is what a case asserts of a jsonrpc.Verdict: its action, the
// error's code and message (Refuse), the result (Answer) or note (Drop,
// when not empty), and the rule.
type verdict struct {
	action jsonrpc.Action
	code   int
	msg    string
	rule   string
}

// wirePolicy compiles text and returns the Policy with the path its
// rules name.
func wirePolicy(t *testing.T, text string) (*Policy, string) {
	t.Helper()
	p, pol, err := compileProfile(t, text)
	if err != nil {
		t.Fatal(err)
	}
	return pol, p.Origin.File
}

// inEra fixes pol's session at era as a client and server would: by
// initialize and its result, or in 2026-07-28 by a request that
// declares it and the server's answer. "" leaves it open.
func inEra(t *testing.T, pol *Policy, era string) {
	t.Helper()
	switch {
	case era == "":
		return
	case modern(era):
		v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":"era","method":"ping","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"`+era+`","io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"}}}}`)
		reply(t, pol, &jsonrpc.Call{Method: "ping", State: v.State}, `{"jsonrpc":"2.0","id":"era","result":{}}`)
	default:
		v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":"era","method":"initialize","params":{"protocolVersion":"`+era+`","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
		reply(t, pol, &jsonrpc.Call{Method: "initialize", State: v.State}, `{"jsonrpc":"2.0","id":"era","result":{"protocolVersion":"`+era+`","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}`)
	}
	if got := pol.Version(); got != era {
		t.Fatalf("session in %q: version %q", era, got)
	}
}

// check compares v with want, $P in want's rule standing for path.
func (want verdict) check(t *testing.T, v jsonrpc.Verdict, path string) {
	t.Helper()
	got := verdict{action: v.Action, rule: v.Rule}
	switch v.Action {
	case jsonrpc.Refuse:
		got.code, got.msg = v.Err.Code, v.Err.Message
	case jsonrpc.Answer:
		got.msg = string(v.Result)
	case jsonrpc.Drop:
		if want.msg != "" {
			got.msg = v.Note
		}
	}
	want.rule = strings.ReplaceAll(want.rule, "$P", path)
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// spelled is how a member in another spelling is named in a refusal.
func spelled(got, want string) string {
	return `member name "` + got + `" differs only in case from "` + want + `", which mcpcell reads (Go's encoding/json reads them as one)`
}

func forward(rule string) verdict { return verdict{action: jsonrpc.Forward, rule: rule} }

func refused(code int, msg, rule string) verdict {
	return verdict{action: jsonrpc.Refuse, code: code, msg: msg, rule: rule}
}

func dropped(note, rule string) verdict { return verdict{action: jsonrpc.Drop, msg: note, rule: rule} }

// wireCase is one message in every era of eras (all when nil), with
// the verdict want, or byEra's for an era it names.
type wireCase struct {
	name    string
	profile string // wireProfile when ""
	eras    []string
	dir     jsonrpc.Direction
	call    string // for a response: the method of the request it answers
	params  string // and that request's params, {} when ""
	frame   string
	want    verdict
	byEra   map[string]verdict
}

func (c wireCase) run(t *testing.T) {
	t.Helper()
	for _, era := range eras {
		if c.eras != nil && !slices.Contains(c.eras, era) {
			continue
		}
		t.Run(c.name+"/"+cmpOr(era, "none"), func(t *testing.T) {
			text := c.profile
			if text == "" {
				text = wireProfile
			}
			pol, path := wirePolicy(t, text)
			inEra(t, pol, era)
			m := parseFrame(t, c.frame)
			var v jsonrpc.Verdict
			if c.call != "" {
				// The request first, in the other direction, as the
				// interposer asks it: its verdict's State comes back
				// with the reply.
				other := jsonrpc.Up
				if c.dir == jsonrpc.Up {
					other = jsonrpc.Down
				}
				rv := pol.Message(other, parseFrame(t, req(c.call, cmpOr(c.params, "{}"))))
				v = pol.Reply(c.dir, &jsonrpc.Call{Method: c.call, State: rv.State}, m)
			} else {
				v = pol.Message(c.dir, m)
			}
			want, ok := c.byEra[era]
			if !ok {
				want = c.want
			}
			want.check(t, v, path)
		})
	}
}

func cmpOr(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// beforeArg are the eras whose argument errors are -32602.
var beforeArg = []string{"2024-11-05", V20250326, "2025-06-18"}

func req(method, params string) string {
	return `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":` + params + `}`
}

func note(method, params string) string {
	return `{"jsonrpc":"2.0","method":"` + method + `","params":` + params + `}`
}

func TestWireClientRequests(t *testing.T) {
	notFound := func(uri, rule string) verdict {
		return refused(jsonrpc.CodeResourceNotFound, "Resource not found: "+uri, rule)
	}
	notFound26 := func(uri, rule string) map[string]verdict {
		return map[string]verdict{V20260728: refused(jsonrpc.CodeInvalidParams, "Resource not found: "+uri, rule)}
	}
	const secret = "file:///secret/k"
	secretRule := `resources.deny "file:///secret/**" ($P:7)`
	argRefused := func(msg, rule string) map[string]verdict {
		m := map[string]verdict{}
		for _, e := range beforeArg {
			m[e] = refused(jsonrpc.CodeInvalidParams, msg, rule)
		}
		return m
	}
	toolError := func(msg, rule string) verdict {
		return verdict{action: jsonrpc.Answer, msg: string(toolError(msg)), rule: rule}
	}
	for _, c := range []wireCase{
		// Methods allowed as such.
		{name: "ping", frame: req("ping", `{}`), want: forward("method ping")},
		{name: "logging/setLevel", frame: req("logging/setLevel", `{"level":"info"}`), want: forward("method logging/setLevel")},
		{name: "server/discover", frame: req("server/discover", `{}`), want: forward("method server/discover")},
		{name: "tools/list", frame: req("tools/list", `{}`), want: forward("method tools/list")},
		{name: "tools/list cursor", frame: req("tools/list", `{"cursor":"c2"}`), want: forward("method tools/list")},
		{name: "prompts/list", frame: req("prompts/list", `{}`), want: forward("method prompts/list")},
		{name: "resources/list", frame: req("resources/list", `{}`), want: forward("method resources/list")},
		{name: "resources/templates/list", frame: req("resources/templates/list", `{}`), want: forward("method resources/templates/list")},
		{name: "tasks/get", frame: req("tasks/get", `{"taskId":"t"}`), want: forward("method tasks/get")},
		{name: "tasks/result", frame: req("tasks/result", `{"taskId":"t"}`), want: forward("method tasks/result")},
		{name: "tasks/list", frame: req("tasks/list", `{}`), want: forward("method tasks/list")},
		{name: "tasks/cancel", frame: req("tasks/cancel", `{"taskId":"t"}`), want: forward("method tasks/cancel")},
		{name: "tasks/update", frame: req("tasks/update", `{"taskId":"t"}`), want: forward("method tasks/update")},
		// A method the policy does not know could reach tools around it.
		{name: "unknown method", frame: req("tools/run", `{"name":"echo"}`), want: refused(jsonrpc.CodeMethodNotFound, "Method not found: tools/run", "unknown-method")},
		{name: "a server's method", frame: `{"jsonrpc":"2.0","id":7,"method":"sampling/createMessage"}`, want: refused(jsonrpc.CodeMethodNotFound, "Method not found: sampling/createMessage", "unknown-method")},

		// tools/call: allow, deny (which wins), allow without a match,
		// malformed params, argument constraints.
		{name: "tool allowed", frame: req("tools/call", `{"name":"echo","arguments":{"x":1}}`), want: forward(`tools.allow "echo" ($P:2)`)},
		{name: "tool denied", frame: req("tools/call", `{"name":"read_secret","arguments":{}}`), want: refused(jsonrpc.CodeInvalidParams, "Unknown tool: read_secret", `tools.deny "read_secret*" ($P:3)`)},
		{name: "tool denied folded", frame: req("tools/call", `{"name":"READ_SECRET","arguments":{}}`), want: refused(jsonrpc.CodeInvalidParams, "Unknown tool: READ_SECRET", `tools.deny "read_secret*" ($P:3)`)},
		{name: "tool not allowed", frame: req("tools/call", `{"name":"write","arguments":{}}`), want: refused(jsonrpc.CodeInvalidParams, "Unknown tool: write", "tools.allow: no glob matches")},
		{name: "tool allow as written", frame: req("tools/call", `{"name":"ECHO","arguments":{}}`), want: refused(jsonrpc.CodeInvalidParams, "Unknown tool: ECHO", "tools.allow: no glob matches")},
		{name: "tool no name", frame: req("tools/call", `{"arguments":{}}`), want: refused(jsonrpc.CodeInvalidParams, "mcpcell: tools/call needs a string name", "tools/call")},
		{name: "tool name not a string", frame: req("tools/call", `{"name":7}`), want: refused(jsonrpc.CodeInvalidParams, "mcpcell: tools/call needs a string name", "tools/call")},
		{name: "tool arguments not an object", frame: req("tools/call", `{"name":"echo","arguments":[1]}`), want: refused(jsonrpc.CodeInvalidParams, "mcpcell: tool arguments must be an object", "tools/call")},
		{name: "_meta in another spelling", frame: req("ping", `{"_META":{}}`), want: refused(jsonrpc.CodeParseError, "mcpcell: invalid JSON: "+spelled("_META", "_meta"), "strict-json")},
		{name: "version key in another spelling", frame: req("ping", `{"_meta":{"io.modelcontextprotocol/protocolversion":"2024-11-05"}}`),
			want: refused(jsonrpc.CodeParseError, "mcpcell: invalid JSON: "+spelled("io.modelcontextprotocol/protocolversion", "io.modelcontextprotocol/protocolVersion"), "strict-json")},
		{name: "clientInfo in another spelling", eras: []string{""}, frame: req("initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"ClientInfo":{"name":"c"}}`),
			want: refused(jsonrpc.CodeParseError, "mcpcell: invalid JSON: "+spelled("ClientInfo", "clientInfo"), "strict-json")},
		{name: "capability in another spelling", eras: []string{""}, frame: req("initialize", `{"protocolVersion":"2025-11-25","capabilities":{"Sampling":{}},"clientInfo":{"name":"c"}}`),
			want: refused(jsonrpc.CodeParseError, "mcpcell: invalid JSON: "+spelled("Sampling", "sampling"), "strict-json")},
		{name: "tool name in another spelling", frame: req("tools/call", `{"Name":"read_secret"}`), want: refused(jsonrpc.CodeParseError, "mcpcell: invalid JSON: "+spelled("Name", "name"), "strict-json")},
		{name: "tool arguments in another spelling", frame: req("tools/call", `{"name":"echo","Arguments":{}}`), want: refused(jsonrpc.CodeParseError, "mcpcell: invalid JSON: "+spelled("Arguments", "arguments"), "strict-json")},
		{name: "argument held", frame: req("tools/call", `{"name":"read_file","arguments":{"path":"/proj/a","mode":"r","tag":"ab"}}`), want: forward(`tools.allow "read_*" ($P:2)`)},
		{name: "argument within", frame: req("tools/call", `{"name":"read_file","arguments":{"path":"/etc/passwd"}}`),
			want:  toolError(`mcpcell: argument "path" of tool "read_file" is outside the allowed folders (within: /proj)`, `tools.args.read_file.path ($P:9)`),
			byEra: argRefused(`mcpcell: argument "path" of tool "read_file" is outside the allowed folders (within: /proj)`, `tools.args.read_file.path ($P:9)`)},
		{name: "argument enum", frame: req("tools/call", `{"name":"read_file","arguments":{"mode":"w"}}`),
			want:  toolError(`mcpcell: argument "mode" of tool "read_file" is not one of the allowed values (enum)`, `tools.args.read_file.mode ($P:10)`),
			byEra: argRefused(`mcpcell: argument "mode" of tool "read_file" is not one of the allowed values (enum)`, `tools.args.read_file.mode ($P:10)`)},
		{name: "argument match", frame: req("tools/call", `{"name":"read_file","arguments":{"tag":"A1"}}`),
			want:  toolError(`mcpcell: argument "tag" of tool "read_file" does not match "[a-z]+" (match)`, `tools.args.read_file.tag ($P:11)`),
			byEra: argRefused(`mcpcell: argument "tag" of tool "read_file" does not match "[a-z]+" (match)`, `tools.args.read_file.tag ($P:11)`)},
		{name: "argument max_len", frame: req("tools/call", `{"name":"read_file","arguments":{"tag":"abcd"}}`),
			want:  toolError(`mcpcell: argument "tag" of tool "read_file" is longer than 3 characters (max_len)`, `tools.args.read_file.tag ($P:11)`),
			byEra: argRefused(`mcpcell: argument "tag" of tool "read_file" is longer than 3 characters (max_len)`, `tools.args.read_file.tag ($P:11)`)},
		// A [tools.args] key applies to every name with the key of one it
		// matches.
		{name: "argument of a folded tool", frame: req("tools/call", `{"name":"read_ﬁle","arguments":{"path":"/etc"}}`),
			want:  toolError(`mcpcell: argument "path" of tool "read_ﬁle" is outside the allowed folders (within: /proj)`, `tools.args.read_file.path ($P:9)`),
			byEra: argRefused(`mcpcell: argument "path" of tool "read_ﬁle" is outside the allowed folders (within: /proj)`, `tools.args.read_file.path ($P:9)`)},
		{name: "argument in another spelling", frame: req("tools/call", `{"name":"read_file","arguments":{"PATH":"/etc/passwd"}}`),
			want: refused(jsonrpc.CodeParseError, "mcpcell: invalid JSON: "+spelled("PATH", "path"), "strict-json")},

		// prompts/get and completion of a prompt.
		{name: "prompt allowed", frame: req("prompts/get", `{"name":"greet","arguments":{"who":"x"}}`), want: forward("prompts.allow absent: all allowed")},
		{name: "prompt denied", frame: req("prompts/get", `{"name":"hidden_x"}`), want: refused(jsonrpc.CodeInvalidParams, "Unknown prompt: hidden_x", `prompts.deny "hidden_*" ($P:5)`)},
		{name: "prompt no name", frame: req("prompts/get", `{}`), want: refused(jsonrpc.CodeInvalidParams, "mcpcell: prompts/get needs a string name", "prompts/get")},
		{name: "complete prompt", frame: req("completion/complete", `{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"a","value":""}}`), want: forward("prompts")},
		{name: "complete hidden prompt", frame: req("completion/complete", `{"ref":{"type":"ref/prompt","name":"hidden_x"},"argument":{"name":"a","value":""}}`), want: refused(jsonrpc.CodeInvalidParams, "Unknown prompt: hidden_x", `prompts.deny "hidden_*" ($P:5)`)},
		{name: "complete resource", frame: req("completion/complete", `{"ref":{"type":"ref/resource","uri":"file:///p/{x}"},"argument":{"name":"x","value":""}}`), want: forward("resources.allow absent: all allowed")},
		{name: "complete hidden resource", frame: req("completion/complete", `{"ref":{"type":"ref/resource","uri":"file:///secret/{x}"},"argument":{"name":"x","value":""}}`),
			want: notFound("file:///secret/{x}", secretRule), byEra: notFound26("file:///secret/{x}", secretRule)},
		{name: "complete unknown ref", frame: req("completion/complete", `{"ref":{"type":"ref/tool","name":"echo"}}`), want: refused(jsonrpc.CodeInvalidParams, `mcpcell: unknown completion reference type "ref/tool"`, "completion/complete")},

		// Resources: read, subscribe, unsubscribe, listen.
		{name: "resource allowed", frame: req("resources/read", `{"uri":"file:///p/a"}`), want: forward("resources.allow absent: all allowed")},
		{name: "resource denied", frame: req("resources/read", `{"uri":"`+secret+`"}`), want: notFound(secret, secretRule), byEra: notFound26(secret, secretRule)},
		{name: "resource denied canonical", frame: req("resources/read", `{"uri":"FILE:///secret/%6B"}`),
			want: notFound("FILE:///secret/%6B", secretRule+", on "+secret), byEra: notFound26("FILE:///secret/%6B", secretRule+", on "+secret)},
		{name: "resource denied dot segments", frame: req("resources/read", `{"uri":"file:///p/../secret/k"}`),
			want: notFound("file:///p/../secret/k", secretRule+", on "+secret), byEra: notFound26("file:///p/../secret/k", secretRule+", on "+secret)},
		{name: "resource refused", frame: req("resources/read", `{"uri":"file:///p/%2Fsecret/k"}`),
			want: refused(jsonrpc.CodeInvalidParams, `mcpcell: URI "file:///p/%2Fsecret/k" holds an encoded / (%2F)`, "resources: URI refused: holds an encoded / (%2F)")},
		{name: "resource no uri", frame: req("resources/read", `{}`), want: refused(jsonrpc.CodeInvalidParams, "mcpcell: resources/read needs a string uri", "resources/read")},
		{name: "subscribe denied", frame: req("resources/subscribe", `{"uri":"`+secret+`"}`), want: notFound(secret, secretRule), byEra: notFound26(secret, secretRule)},
		{name: "unsubscribe allowed", frame: req("resources/unsubscribe", `{"uri":"file:///p/a"}`), want: forward("resources.allow absent: all allowed")},
		{name: "listen allowed", frame: req("subscriptions/listen", `{"notifications":{"resourceSubscriptions":["file:///p/a"]}}`), want: forward("method subscriptions/listen")},
		{name: "listen denied", frame: req("subscriptions/listen", `{"notifications":{"resourceSubscriptions":["file:///p/a","`+secret+`"]}}`), want: notFound(secret, secretRule), byEra: notFound26(secret, secretRule)},
		{name: "listen not strings", frame: req("subscriptions/listen", `{"notifications":{"resourceSubscriptions":[7]}}`), want: refused(jsonrpc.CodeInvalidParams, "mcpcell: resourceSubscriptions must hold strings", "subscriptions/listen")},
	} {
		c.dir = jsonrpc.Up
		c.run(t)
	}
}

// The protocol version: initialize once, and no request moves the
// session to another version.
func TestWireVersion(t *testing.T) {
	initialize := func(v string) string {
		return req("initialize", `{"protocolVersion":"`+v+`","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	}
	again := func(era string) verdict {
		return refused(jsonrpc.CodeInvalidRequest, "mcpcell: the session's protocol version is already "+era+": it is not initialized again", "protocol-version")
	}
	metaPing := func(v string) string {
		return req("ping", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"`+v+`"}}`)
	}
	moved := func(era string) verdict {
		return refused(jsonrpc.CodeInvalidRequest, "mcpcell: this session speaks protocol version "+era+" (fixed by initialize), not 2025-03-26", "protocol-version")
	}
	for _, c := range []wireCase{
		{name: "initialize", frame: initialize(V20251125), want: forward("method initialize"), byEra: map[string]verdict{
			"2024-11-05": again("2024-11-05"), V20250326: again(V20250326), "2025-06-18": again("2025-06-18"), V20251125: again(V20251125), V20260728: again(V20260728),
		}},
		{name: "initialize names two versions", eras: []string{""}, frame: req("initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}`),
			want: refused(jsonrpc.CodeInvalidRequest, `mcpcell: initialize names protocol version "2025-06-18", its _meta "2025-11-25"`, "protocol-version")},
		{name: "request names another version", frame: metaPing(V20250326), want: forward("method ping"), byEra: map[string]verdict{
			"2024-11-05": moved("2024-11-05"), "2025-06-18": moved("2025-06-18"), V20251125: moved(V20251125),
			V20260728: refused(-32022, "mcpcell: this session speaks protocol version 2026-07-28, not 2025-03-26", "protocol-version"),
		}},
	} {
		c.dir = jsonrpc.Up
		c.run(t)
	}

	// 2026-07-28's refusal names the version the session speaks.
	pol, _ := wirePolicy(t, wireProfile)
	inEra(t, pol, V20260728)
	v := message(t, pol, jsonrpc.Up, metaPing("2027-01-01"))
	if v.Err == nil || string(v.Err.Data) != `{"supported":["2026-07-28"],"requested":"2027-01-01"}` {
		t.Errorf("a request for another version in 2026-07-28: %+v", v)
	}
	// Batches are taken only in a session initialize fixed at 2025-03-26.
	for _, era := range eras {
		pol, _ := wirePolicy(t, wireProfile)
		inEra(t, pol, era)
		if got, want := pol.Batches(), era == V20250326; got != want {
			t.Errorf("batches in %q: %v, want %v", era, got, want)
		}
	}
	// One initialize at a time.
	pol, _ = wirePolicy(t, wireProfile)
	message(t, pol, jsonrpc.Up, initialize(V20251125))
	v = message(t, pol, jsonrpc.Up, initialize(V20251125))
	refused(jsonrpc.CodeInvalidRequest, "mcpcell: an initialize is already in flight", "protocol-version").check(t, v, "")
	// A dual-era client's probe that a legacy server refuses leaves the
	// version open, and initialize may follow; one it answers fixes it.
	for _, answer := range []string{`"error":{"code":-32601,"message":"Method not found"}`, `"result":{}`} {
		pol, _ = wirePolicy(t, wireProfile)
		v = message(t, pol, jsonrpc.Up, req("server/discover", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}`))
		reply(t, pol, &jsonrpc.Call{Method: "server/discover", State: v.State}, `{"jsonrpc":"2.0","id":7,`+answer+`}`)
		v = message(t, pol, jsonrpc.Up, initialize(V20251125))
		want := forward("method initialize")
		if answer == `"result":{}` {
			want = again(V20260728)
		}
		want.check(t, v, "")
	}
	// The server's initialize result must name a version.
	pol, _ = wirePolicy(t, wireProfile)
	v = message(t, pol, jsonrpc.Up, initialize(V20251125))
	got := reply(t, pol, &jsonrpc.Call{Method: "initialize", State: v.State}, `{"jsonrpc":"2.0","id":7,"result":{"capabilities":{}}}`)
	refused(jsonrpc.CodeInternalError, "mcpcell: the server's initialize result names no protocolVersion", "protocol-version").check(t, got, "")
}

// [client] names: the first request names the client, which the
// session then belongs to.
func TestWireClientNames(t *testing.T) {
	for _, c := range []wireCase{
		{name: "named", frame: req("initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c"}}`), eras: []string{""}, want: forward("method initialize")},
		{name: "not allowed", frame: req("initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"d"}}`), eras: []string{""},
			want: refused(jsonrpc.CodeInvalidRequest, `mcpcell: client "d" is not allowed by the profile (allowed: "c")`, "client.names")},
		{name: "unnamed", frame: req("ping", `{}`), eras: []string{""},
			want: refused(jsonrpc.CodeInvalidRequest, `mcpcell: the client did not give its name, and the profile allows only "c"`, "client.names")},
		{name: "unnamed once named", frame: req("ping", `{}`), want: forward("method ping"), byEra: map[string]verdict{
			"": refused(jsonrpc.CodeInvalidRequest, `mcpcell: the client did not give its name, and the profile allows only "c"`, "client.names"),
		}},
		{name: "another client", frame: req("ping", `{"_meta":{"io.modelcontextprotocol/clientInfo":{"name":"d"}}}`), eras: []string{V20260728},
			want: refused(jsonrpc.CodeInvalidRequest, `mcpcell: this session belongs to client "c", not "d"`, "client.names")},
	} {
		c.dir, c.profile = jsonrpc.Up, openProfile
		c.run(t)
	}
}

// The client's capabilities the profile denies are removed where they
// travel: initialize, and 2026-07-28's _meta.
func TestWireCapabilitiesStripped(t *testing.T) {
	for _, c := range []struct {
		profile, frame, want string
	}{
		{wireProfile, req("initialize", `{"protocolVersion":"2025-11-25","capabilities":{"sampling":{},"roots":{},"x":{}},"clientInfo":{"name":"c"}}`), `"capabilities":{"x":{}}`},
		{wireProfile, req("ping", `{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"elicitation":{},"x":{}}}}`), `"io.modelcontextprotocol/clientCapabilities":{"x":{}}`},
		{openProfile, req("initialize", `{"protocolVersion":"2025-11-25","capabilities":{"sampling":{},"roots":{},"x":{}},"clientInfo":{"name":"c"}}`), ""},
	} {
		pol, _ := wirePolicy(t, c.profile)
		v := message(t, pol, jsonrpc.Up, c.frame)
		if v.Action != jsonrpc.Forward || (c.want == "") != (v.Frame == nil) || !strings.Contains(string(v.Frame), c.want) {
			t.Errorf("%s: %v %s, want a frame with %s", c.frame, v.Action, v.Frame, c.want)
		}
	}
}

func TestWireClientNotifications(t *testing.T) {
	notInEra := func(method string, eras ...string) map[string]verdict {
		m := map[string]verdict{}
		for _, e := range eras {
			m[e] = dropped(`dropped the client's notification "`+method+`": not a notification a client sends in protocol `+e, "client notifications")
		}
		return m
	}
	for _, c := range []wireCase{
		{name: "cancelled", frame: note("notifications/cancelled", `{"requestId":3}`), want: forward("notification")},
		{name: "cancelled misspelled", frame: note("notifications/cancelled", `{"RequestId":3}`),
			want: dropped("dropped the client's notifications/cancelled: "+spelled("RequestId", "requestId"), "strict-json")},
		{name: "progress", frame: note("notifications/progress", `{"progressToken":1,"progress":1}`), want: forward("notification"), byEra: notInEra("notifications/progress", V20260728)},
		{name: "initialized", frame: note("notifications/initialized", `{}`), want: forward("notification"), byEra: notInEra("notifications/initialized", V20260728)},
		{name: "roots/list_changed denied", frame: note("notifications/roots/list_changed", `{}`), want: dropped("", "client.roots = false"), byEra: notInEra("notifications/roots/list_changed", V20260728)},
		{name: "roots/list_changed allowed", profile: openProfile, frame: note("notifications/roots/list_changed", `{"_meta":{"io.modelcontextprotocol/clientInfo":{"name":"c"}}}`), want: forward("notification"), byEra: notInEra("notifications/roots/list_changed", V20260728)},
		{name: "tasks/status", frame: note("notifications/tasks/status", `{"taskId":"t","status":"working"}`), want: forward("notification"),
			byEra: notInEra("notifications/tasks/status", "2024-11-05", V20250326, "2025-06-18", V20260728)},
		// A tools/call without an id is a notification to JSON-RPC, and
		// a naive server runs it all the same.
		{name: "tools/call as a notification", frame: note("tools/call", `{"name":"read_secret"}`),
			want:  dropped(`dropped the client's notification "tools/call": not a notification a client sends in any protocol version`, "client notifications"),
			byEra: notInEra("tools/call", "2024-11-05", V20250326, "2025-06-18", V20251125, V20260728)},
	} {
		c.dir = jsonrpc.Up
		c.run(t)
	}
}

func TestWireServerMessages(t *testing.T) {
	modernOnly := func() map[string]verdict {
		return map[string]verdict{V20260728: refused(jsonrpc.CodeMethodNotFound, "mcpcell: a server does not send requests on stdio in protocol 2026-07-28", "protocol")}
	}
	for _, c := range []wireCase{
		// Requests: what [client] denies is answered by mcpcell.
		{name: "ping", frame: req("ping", `{}`), want: forward("method ping"), byEra: modernOnly()},
		{name: "tasks/get", frame: req("tasks/get", `{"taskId":"t"}`), want: forward("method tasks/get"), byEra: modernOnly()},
		{name: "tasks/result", frame: req("tasks/result", `{"taskId":"t"}`), want: forward("method tasks/result"), byEra: modernOnly()},
		{name: "tasks/list", frame: req("tasks/list", `{}`), want: forward("method tasks/list"), byEra: modernOnly()},
		{name: "tasks/cancel", frame: req("tasks/cancel", `{"taskId":"t"}`), want: forward("method tasks/cancel"), byEra: modernOnly()},
		{name: "sampling denied", frame: req("sampling/createMessage", `{"messages":[]}`), want: refused(jsonrpc.CodeUserRejected, "mcpcell: sampling is not allowed by the profile", "client.sampling = false"), byEra: modernOnly()},
		{name: "sampling allowed", profile: openProfile, frame: req("sampling/createMessage", `{"messages":[]}`), want: forward("client.sampling = true"), byEra: modernOnly()},
		{name: "elicitation denied", frame: req("elicitation/create", `{"message":"m"}`), want: verdict{action: jsonrpc.Answer, msg: `{"action":"decline"}`, rule: "client.elicitation = false"}, byEra: modernOnly()},
		{name: "elicitation allowed", profile: openProfile, frame: req("elicitation/create", `{"message":"m"}`), want: forward("client.elicitation = true"), byEra: modernOnly()},
		{name: "roots denied", frame: req("roots/list", `{}`), want: refused(jsonrpc.CodeMethodNotFound, "Method not found: roots/list", "client.roots = false"), byEra: modernOnly()},
		{name: "roots allowed", profile: openProfile, frame: req("roots/list", `{}`), want: forward("client.roots = true"), byEra: modernOnly()},
		{name: "unknown request", frame: req("tools/call", `{"name":"x"}`), want: refused(jsonrpc.CodeMethodNotFound, "Method not found: tools/call", "unknown-method"), byEra: modernOnly()},

		// Notifications.
		{name: "request as a notification", frame: note("elicitation/create", `{"message":"m"}`),
			want: dropped(`dropped the server's notification "elicitation/create": MCP's notifications are notifications/…`, "server notifications")},
		{name: "tools/list_changed", frame: note("notifications/tools/list_changed", `{}`), want: forward("notification")},
		{name: "progress", frame: note("notifications/progress", `{"progressToken":1,"progress":1}`), want: forward("notification")},
		{name: "resource updated", frame: note("notifications/resources/updated", `{"uri":"file:///p/a"}`), want: forward("notification")},
		{name: "hidden resource updated", frame: note("notifications/resources/updated", `{"uri":"file:///secret/k"}`), want: dropped("", `resources.deny "file:///secret/**" ($P:7)`)},
		{name: "resource updated misspelled", frame: note("notifications/resources/updated", `{"URI":"file:///secret/k"}`),
			want: dropped("dropped the server's notifications/resources/updated: "+spelled("URI", "uri"), "strict-json")},
		{name: "elicitation complete denied", frame: note("notifications/elicitation/complete", `{"elicitationId":"e"}`), want: dropped("", "client.elicitation = false")},
		{name: "elicitation complete allowed", profile: openProfile, frame: note("notifications/elicitation/complete", `{"elicitationId":"e"}`), want: forward("notification")},
		{name: "task status with sampling", frame: note("notifications/tasks/status", `{"taskId":"t","status":"input_required","inputRequests":{"s":{"method":"sampling/createMessage","params":{}}}}`),
			want: dropped("", "client.sampling = false")},
	} {
		c.dir = jsonrpc.Down
		c.run(t)
	}
}

func TestWireReplies(t *testing.T) {
	const tools = `{"tools":[{"name":"echo","inputSchema":{"type":"object"}},{"name":"read_secret","inputSchema":{"type":"object"}},{"name":"write","inputSchema":{"type":"object"}}]}`
	res := func(result string) string { return `{"jsonrpc":"2.0","id":7,"result":` + result + `}` }
	for _, c := range []wireCase{
		{name: "client's answer", dir: jsonrpc.Up, call: "roots/list", frame: res(`{"roots":[]}`), want: forward("reply")},
		{name: "ping", call: "ping", frame: res(`{}`), want: forward("reply")},
		{name: "error", call: "tools/call", frame: `{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"m"}}`, want: forward("reply")},
		{name: "not an object", call: "tools/list", frame: res(`[]`), want: refused(jsonrpc.CodeInternalError, "mcpcell: the server's tools/list result is not an object", "reply")},
		{name: "tools filtered", call: "tools/list", frame: res(tools), want: forward("tools: 1 of 3 shown")},
		{name: "tools unreadable", call: "tools/list", frame: res(`{"tools":{}}`), want: refused(jsonrpc.CodeInternalError, `mcpcell: the server's list has no "tools" array`, "list")},
		{name: "tool without a name", call: "tools/list", frame: res(`{"tools":[{"title":"x"}]}`), want: refused(jsonrpc.CodeInternalError, `mcpcell: an entry of the server's "tools" list has no string "name"`, "list")},
		{name: "tool name misspelled", call: "tools/list", frame: res(`{"tools":[{"Name":"read_secret"}]}`), want: refused(jsonrpc.CodeInternalError, "mcpcell: the server sent an invalid response: invalid JSON: "+spelled("Name", "name"), "strict-json")},
		{name: "prompts filtered", call: "prompts/list", frame: res(`{"prompts":[{"name":"greet"},{"name":"hidden_x"}]}`), want: forward("prompts: 1 of 2 shown")},
		{name: "resources filtered", call: "resources/list", frame: res(`{"resources":[{"uri":"file:///p/a","name":"a"},{"uri":"file:///secret/k","name":"k"}]}`), want: forward("resources: 1 of 2 shown")},
		{name: "templates filtered", call: "resources/templates/list", frame: res(`{"resourceTemplates":[{"uriTemplate":"file:///p/{x}","name":"a"},{"uriTemplate":"file:///secret/{x}","name":"k"}]}`), want: forward("resourceTemplates: 1 of 2 shown")},
		{name: "input requests where none may be", call: "prompts/list", frame: res(`{"prompts":[],"inputRequests":{}}`),
			want: refused(jsonrpc.CodeInternalError, "mcpcell: the server's prompts/list result carries input requests, which only tools/call, prompts/get, resources/read, tasks/get and tasks/cancel results may", "input_required")},
		{name: "tool result", call: "tools/call", frame: res(`{"content":[],"isError":true}`), want: forward("reply")},
		{name: "tool result asks sampling", call: "tools/call", frame: res(`{"resultType":"input_required","inputRequests":{"s":{"method":"sampling/createMessage","params":{}}}}`),
			want: refused(jsonrpc.CodeUserRejected, "mcpcell: the server asked for sampling, which the profile does not allow", "client.sampling = false")},
		{name: "tool result asks roots", call: "tools/call", frame: res(`{"resultType":"input_required","inputRequests":{"r":{"method":"roots/list","params":{}}}}`),
			want: refused(jsonrpc.CodeMethodNotFound, "Method not found: roots/list", "client.roots = false")},
		{name: "tool result asks elicitation", call: "tools/call", frame: res(`{"resultType":"input_required","inputRequests":{"e":{"method":"elicitation/create","params":{"message":"m"}}},"requestState":"s"}`),
			want: forward("client.elicitation = false: declined by mcpcell")},
		{name: "tool result asks a tool", call: "tools/call", frame: res(`{"resultType":"input_required","inputRequests":{"t":{"method":"tools/call","params":{"name":"read_secret"}}}}`),
			want: refused(jsonrpc.CodeInternalError, `mcpcell: the server asked for "tools/call", which is not an input request`, "input_required")},
		{name: "task asks sampling", call: "tasks/get", frame: res(`{"taskId":"t","status":"input_required","inputRequests":{"s":{"method":"sampling/createMessage","params":{}}}}`),
			want: refused(jsonrpc.CodeUserRejected, "mcpcell: the server asked for sampling, which the profile does not allow", "client.sampling = false")},
		{name: "input requests misspelled", call: "tools/call", frame: res(`{"InputRequests":{}}`),
			want: refused(jsonrpc.CodeInternalError, "mcpcell: the server sent an invalid response: invalid JSON: "+spelled("InputRequests", "inputRequests"), "strict-json")},
		{name: "URL elicitation error", call: "tools/call", frame: `{"jsonrpc":"2.0","id":7,"error":{"code":-32042,"message":"open","data":{"elicitations":[]}}}`,
			want: refused(jsonrpc.CodeInternalError, "mcpcell: the server asked the client to open a page for the user (URL elicitation), which the profile does not allow", "client.elicitation = false")},
	} {
		if c.dir == 0 {
			c.dir = jsonrpc.Down
		}
		c.run(t)
	}
}

// A listing decides what may be called: the tools of the current
// listing's pages, filtered; a page asked with a cursor the listing gave
// adds to it; list_changed passes and the next listing replaces it.
func TestWireListing(t *testing.T) {
	pol, _ := wirePolicy(t, wireProfile)
	page := func(cursor, result string) jsonrpc.Verdict {
		t.Helper()
		return listPage(t, pol, cursor, result)
	}
	v := page("", `{"tools":[{"name":"echo"},{"name":"read_secret"}],"nextCursor":"2"}`)
	if v.Rule != "tools: 1 of 2 shown" || strings.Contains(string(v.Frame), "read_secret") || !strings.Contains(string(v.Frame), `"nextCursor":"2"`) {
		t.Errorf("first page: %s %s", v.Rule, v.Frame)
	}
	for name, want := range map[string]bool{"echo": true, "read_a": false, "read_secret": false} {
		if got := callable(t, pol, name); got != want {
			t.Errorf("after the first page: %s callable %v, want %v", name, got, want)
		}
	}
	v = page("2", `{"tools":[{"name":"read_a"}]}`)
	if v.Rule != "tools: 1 of 1 shown" || v.Frame != nil {
		t.Errorf("second page: %s %s", v.Rule, v.Frame)
	}
	if !callable(t, pol, "read_a") || !callable(t, pol, "echo") {
		t.Error("a tool of the listing's second page is not callable")
	}
	got := message(t, pol, jsonrpc.Down, note("notifications/tools/list_changed", `{}`))
	forward("notification").check(t, got, "")
	page("", `{"tools":[{"name":"read_a"}]}`)
	if callable(t, pol, "echo") || !callable(t, pol, "read_a") {
		t.Error("a new listing without echo left it callable")
	}
	got = message(t, pol, jsonrpc.Up, req("tools/call", `{"name":"echo","arguments":{}}`))
	refused(jsonrpc.CodeInvalidParams, "Unknown tool: echo", "tools: not in the server's tools/list").check(t, got, "")
}

// Every constraint kind, and its refusal, asked of argCheck.check.
func TestArgCheck(t *testing.T) {
	_, pol, err := compileProfile(t, `[tools.args.t]
p = { within = ["/proj", "/data"] }
e = { enum = ["a", true, 3] }
m = { match = "[a-z]+" }
n = { max_len = 2 }
`)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]*argCheck{}
	for i := range pol.args[0].checks {
		c := &pol.args[0].checks[i]
		checks[c.arg] = c
	}
	const w = `mcpcell: argument "%s" of tool "t" `
	for _, c := range []struct {
		arg, raw, want string
	}{
		{"p", ``, ""}, // absent
		{"p", `"/proj/a"`, ""},
		{"p", `"/data"`, ""},
		{"p", `["/proj/a","/data/b"]`, ""},
		{"p", `"/etc/passwd"`, w + "is outside the allowed folders (within: /proj, /data)"},
		{"p", `"/proj/../etc"`, w + "is outside the allowed folders (within: /proj, /data)"},
		{"p", `["/proj/a","/etc"]`, w[:len(w)-1] + " (element 1) is outside the allowed folders (within: /proj, /data)"},
		{"p", `"a/b"`, w + "is a relative path, which servers resolve against folders of their own (give an absolute path) (within: /proj, /data)"},
		{"p", `"~/x"`, w + "starts with ~, which servers expand to a home folder (within: /proj, /data)"},
		{"p", `""`, w + "is empty (within: /proj, /data)"},
		{"p", `"/proj/\u0000"`, w + "holds a NUL byte (within: /proj, /data)"},
		{"p", `"file:///proj/a"`, w + "is a URI, not an absolute path: some servers read it as a URI, others (server-filesystem) as a relative path inside a folder of their own (give an absolute path) (within: /proj, /data)"},
		{"p", `7`, w + "must be a string or an array of strings, not number"},
		{"p", `[7]`, w[:len(w)-1] + " (element 0) must be a string, not number"},
		{"p", `{}`, w + "must be a string or an array of strings, not object"},
		{"p", `[1,`, w + "cannot be read"}, // never after strict decoding
		{"e", `"a"`, ""},
		{"e", `true`, ""},
		{"e", `3`, ""},
		{"e", `3.0`, ""},
		{"e", `3e0`, ""},
		{"e", `["a",3]`, ""},
		{"e", `"b"`, w + "is not one of the allowed values (enum)"},
		{"e", `"true"`, w + "is not one of the allowed values (enum)"},
		{"e", `"3"`, w + "is not one of the allowed values (enum)"},
		{"e", `false`, w + "is not one of the allowed values (enum)"},
		{"e", `null`, w + "is not one of the allowed values (enum)"},
		{"e", `["a","b"]`, w[:len(w)-1] + " (element 1) is not one of the allowed values (enum)"},
		{"m", `"abc"`, ""},
		{"m", `"abc1"`, w + `does not match "[a-z]+" (match)`},
		{"m", `""`, w + `does not match "[a-z]+" (match)`},
		{"m", `true`, w + "must be a string or an array of strings, not boolean"},
		{"n", `"ab"`, ""},
		{"n", `"éé"`, ""},
		{"n", `"abc"`, w + "is longer than 2 characters (max_len)"},
		{"n", `["a","abc"]`, w[:len(w)-1] + " (element 1) is longer than 2 characters (max_len)"},
	} {
		var raw []byte
		if c.raw != "" {
			raw = []byte(c.raw)
		}
		want := strings.Replace(c.want, "%s", c.arg, 1)
		if got := checks[c.arg].check("t", raw, "/"); got != want {
			t.Errorf("%s = %s:\ngot  %q\nwant %q", c.arg, c.raw, got, want)
		}
	}
}

// approvedNone is a pinned surface that approves nothing: every entry
// is new.
type approvedNone struct{}

func (approvedNone) Begin(string) error { return nil }
func (approvedNone) Judge(_ string, names []string, _ [][]byte, _ bool) ([]string, error) {
	why := make([]string, len(names))
	for i := range why {
		why[i] = "new"
	}
	return why, nil
}
func (approvedNone) Approved(string, string) bool         { return false }
func (approvedNone) Review() string                       { return "mcpcell trust --tools" }
func (approvedNone) Approve(string, string, []byte) error { return nil }

// With the surface pinned, a completion of a resource template the user
// never approved is refused as a hidden resource: in any era, with the
// era's code.
func TestWirePinnedCompletion(t *testing.T) {
	const uri = "file:///p/{x}"
	for _, era := range eras {
		pol, path := wirePolicy(t, wireProfile)
		pol.SetPins(approvedNone{})
		inEra(t, pol, era)
		v := message(t, pol, jsonrpc.Up, req("completion/complete", `{"ref":{"type":"ref/resource","uri":"`+uri+`"},"argument":{"name":"x","value":""}}`))
		code := jsonrpc.CodeResourceNotFound
		if era == V20260728 {
			code = jsonrpc.CodeInvalidParams
		}
		refused(code, "Resource not found: "+uri, "resourceTemplates: changed since trusted (not approved; no listing yet this session)").check(t, v, path)
		// Tools and prompts alike, before any listing.
		v = message(t, pol, jsonrpc.Up, req("tools/call", `{"name":"echo","arguments":{}}`))
		refused(jsonrpc.CodeInvalidParams, "Unknown tool: echo", "tools: changed since trusted (not approved; no listing yet this session)").check(t, v, path)
		v = message(t, pol, jsonrpc.Up, req("prompts/get", `{"name":"greet"}`))
		refused(jsonrpc.CodeInvalidParams, "Unknown prompt: greet", "prompts: changed since trusted (not approved; no listing yet this session)").check(t, v, path)
	}
}
