package profiles

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// fromClient decides on a request or notification from the client: its
// name, the protocol version it names, then its method; a request it
// forwards may be rewritten (rewriteRequest) and keeps a callState.
func (p *Policy) fromClient(m *jsonrpc.Message) jsonrpc.Verdict {
	var r reader
	params := m.Params
	meta := r.get(params, "_meta")
	declared, _ := r.str(meta, metaVersion)
	info := r.get(meta, metaClient)
	caps := r.get(meta, metaCaps)
	var initVersion string
	if m.Method == "initialize" {
		initVersion, _ = r.str(params, "protocolVersion")
		info = r.get(params, "clientInfo")
		caps = r.get(params, "capabilities")
	}
	var elicitation []byte
	for _, c := range [...]string{"sampling", "elicitation", "roots"} {
		v := r.get(caps, c) // stripped by name when denied: one spelling
		if c == "elicitation" {
			elicitation = v
		}
	}
	name, named := r.str(info, "name")
	if r.bad != nil {
		return refuseSpelling(r.bad)
	}
	p.mu.Lock()
	client := p.client
	if named && (client == "" || len(p.names) == 0) {
		client = name
	}
	p.mu.Unlock()
	if len(p.names) > 0 {
		switch {
		case named && client != "" && name != client:
			return refuse(jsonrpc.CodeInvalidRequest, "client.names", "mcpcell: this session belongs to client %q, not %q", client, name)
		case !named && client == "":
			return refuse(jsonrpc.CodeInvalidRequest, "client.names", "mcpcell: the client did not give its name, and the profile allows only %s", strings.Join(quoteAll(p.names), ", "))
		case named && !slices.Contains(p.names, name):
			return refuse(jsonrpc.CodeInvalidRequest, "client.names", "mcpcell: client %q is not allowed by the profile (allowed: %s)", name, strings.Join(quoteAll(p.names), ", "))
		}
	}
	if named {
		p.mu.Lock()
		if p.client == "" {
			p.client = name
		}
		p.mu.Unlock()
	}
	if m.Kind == jsonrpc.Notification {
		return p.clientNotification(m)
	}
	version, v := p.declared(m.Method, initVersion, declared)
	if v.Action != jsonrpc.Forward {
		return v
	}
	v = p.clientRequest(m, &r, version)
	if r.bad != nil {
		return refuseSpelling(r.bad)
	}
	if v.Action == jsonrpc.Forward {
		frame, err := p.rewriteRequest(m, v, meta != nil, &r)
		switch {
		case r.bad != nil:
			return refuseSpelling(r.bad)
		case err != nil:
			return refuse(jsonrpc.CodeInvalidParams, "strict-json", "mcpcell: %v", err)
		}
		v.Frame = frame
		if d := p.declare(m.Method, initVersion, declared); d.Action != jsonrpc.Forward {
			return d
		}
		if m.Method == "initialize" {
			p.clientElicits(elicitation)
		}
		st := callState{version: version, declared: declared}
		switch m.Method {
		case "tools/list":
			st.cursor, st.list = p.listPage(m.Params)
		case "prompts/list", "resources/templates/list":
			c, _ := jsontext.String(jsontext.Lookup(m.Params, "cursor"))
			st.fresh = c == ""
		}
		v.State = st
	}
	return v
}

// refuseSpelling refuses a request with a member a server that folds
// case reads as one the policy reads: like a duplicate member.
func refuseSpelling(s *spelling) jsonrpc.Verdict {
	return refuse(jsonrpc.CodeParseError, "strict-json", "mcpcell: invalid JSON: %v", s)
}

// callState is what the policy keeps with a forwarded request.
type callState struct {
	version  string // the protocol version it was decided in
	declared string // the version its _meta declared, if any
	// A tools/list asks for the page of cursor, or without one for the
	// first page of the listing numbered list.
	cursor *digest
	list   uint64
	// A prompts/list or resources/templates/list without a cursor starts
	// a new listing.
	fresh bool
}

// clientNotifications are the notifications a client may send, by the
// protocol version that brought them in (each schema.ts's
// ClientNotification); a version in between has those of the one before.
var clientNotifications = []struct {
	since   string
	methods []string
}{
	{"", []string{"notifications/cancelled", "notifications/progress", "notifications/initialized", "notifications/roots/list_changed"}},
	{V20251125, []string{"notifications/cancelled", "notifications/progress", "notifications/initialized", "notifications/roots/list_changed", "notifications/tasks/status"}},
	{V20260728, []string{"notifications/cancelled"}},
}

// clientNotification passes the notifications the client may send in the
// session's protocol version (before one is known, those of any version)
// and drops the others: a tools/call without an id is a notification to
// JSON-RPC, and a naive server runs it all the same.
func (p *Policy) clientNotification(m *jsonrpc.Message) jsonrpc.Verdict {
	version := p.Version()
	known := false
	for _, era := range clientNotifications {
		switch {
		case version == "":
			known = known || slices.Contains(era.methods, m.Method)
		case version >= era.since:
			known = slices.Contains(era.methods, m.Method)
		}
	}
	switch {
	case !known:
		in := "protocol " + version
		if version == "" {
			in = "any protocol version"
		}
		return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: "client notifications",
			Note: fmt.Sprintf("dropped the client's notification %s: not a notification a client sends in %s", clipName(m.Method), in)}
	case m.Method == "notifications/roots/list_changed" && !p.roots:
		return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: "client.roots = false"}
	case m.Method == jsonrpc.CancelMethod:
		var r reader
		r.get(m.Params, "requestId")
		if r.bad != nil {
			return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: "strict-json", Note: "dropped the client's notifications/cancelled: " + r.bad.Error()}
		}
	}
	return jsonrpc.Verdict{Rule: "notification"}
}

// clientRequest decides on a request by its method, in version; a method
// it does not know is refused.
func (p *Policy) clientRequest(m *jsonrpc.Message, r *reader, version string) jsonrpc.Verdict {
	params := m.Params
	switch m.Method {
	case "tools/list":
		r.get(params, "cursor") // one spelling: it says whether a new listing starts
		return jsonrpc.Verdict{Rule: p.methodRule(m.Method)}
	case "initialize", "ping", "logging/setLevel", "server/discover",
		"prompts/list", "resources/list", "resources/templates/list",
		"tasks/get", "tasks/result", "tasks/list", "tasks/cancel", "tasks/update":
		return jsonrpc.Verdict{Rule: p.methodRule(m.Method)}
	case "tools/call":
		name, ok := r.str(params, "name")
		args := r.get(params, "arguments")
		shape := argShape(args)
		if !ok {
			return refuse(jsonrpc.CodeInvalidParams, "tools/call", "mcpcell: tools/call needs a string name")
		}
		// One key for the tool's name: deny, then the [tools.args] keys.
		tool := lazyKey{name: name}
		allowed, rule := p.tools.decideFold(&tool, true)
		if allowed {
			allowed, rule = p.pinnedRule("tools", name, rule)
		}
		if allowed && !p.wasListed(name) {
			allowed, rule = false, "tools: not in the server's tools/list"
		}
		if !allowed {
			v := refuse(jsonrpc.CodeInvalidParams, rule, "Unknown tool: %s", name)
			v.Subject, v.Shape = name, shape
			return v
		}
		if args != nil && jsontext.TypeOf(args) != "object" {
			v := refuse(jsonrpc.CodeInvalidParams, "tools/call", "mcpcell: tool arguments must be an object")
			v.Subject = name
			return v
		}
		msg, argRule, bad := checkCall(p.args, &tool, args, p.cwd)
		if bad != nil {
			return refuseSpelling(bad)
		}
		if msg != "" {
			v := p.argViolation(m, version, msg)
			v.Subject, v.Shape, v.Rule = name, shape, argRule
			return v
		}
		return jsonrpc.Verdict{Rule: rule, Subject: name, Shape: shape}
	case "prompts/get":
		name, ok := r.str(params, "name")
		if !ok {
			return refuse(jsonrpc.CodeInvalidParams, "prompts/get", "mcpcell: prompts/get needs a string name")
		}
		v, ok := p.prompt(name)
		if ok {
			v.Shape = argShape(r.get(params, "arguments"))
		}
		return v
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		uri, ok := r.str(params, "uri")
		if !ok {
			return refuse(jsonrpc.CodeInvalidParams, m.Method, "mcpcell: %s needs a string uri", m.Method)
		}
		return p.resource(version, uri, false)
	case "subscriptions/listen":
		subs := r.get(r.get(params, "notifications"), "resourceSubscriptions")
		elems, _ := jsontext.Elements(subs)
		for _, e := range elems {
			uri, ok := jsontext.String(e)
			if !ok {
				return refuse(jsonrpc.CodeInvalidParams, m.Method, "mcpcell: resourceSubscriptions must hold strings")
			}
			if v := p.resource(version, uri, false); v.Action != jsonrpc.Forward {
				return v
			}
		}
		return jsonrpc.Verdict{Rule: p.methodRule(m.Method)}
	case "completion/complete":
		ref := r.get(params, "ref")
		typ, _ := r.str(ref, "type")
		switch typ {
		case "ref/prompt":
			name, _ := r.str(ref, "name")
			v, ok := p.prompt(name)
			if ok {
				v.Rule = "prompts"
			}
			return v
		case "ref/resource":
			uri, _ := r.str(ref, "uri")
			v := p.resource(version, uri, true)
			if ok, rule := p.pinnedCall("resourceTemplates", uri); v.Action == jsonrpc.Forward && !ok {
				code := jsonrpc.CodeResourceNotFound
				if p.versionOr(version) >= V20260728 {
					code = jsonrpc.CodeInvalidParams
				}
				v = refuse(code, rule, "Resource not found: %s", uri)
				v.Subject = uri
			}
			return v
		}
		return refuse(jsonrpc.CodeInvalidParams, m.Method, "mcpcell: unknown completion reference type %q", typ)
	}
	// A method the policy does not know could reach tools around it.
	return refuse(jsonrpc.CodeMethodNotFound, "unknown-method", "Method not found: %s", m.Method)
}

// resource decides on a request for uri (a template when template is
// set) by its canonical form. A hidden resource is not found; a URI
// mcpcell refuses to read is invalid params, with the reason.
func (p *Policy) resource(version, uri string, template bool) jsonrpc.Verdict {
	allowed, rule, err := p.resources.decideURI(uri, template)
	var v jsonrpc.Verdict
	switch {
	case err != nil:
		v = refuse(jsonrpc.CodeInvalidParams, rule, "mcpcell: %v", err)
	case !allowed:
		code := jsonrpc.CodeResourceNotFound
		if p.versionOr(version) >= V20260728 {
			code = jsonrpc.CodeInvalidParams
		}
		v = refuse(code, rule, "Resource not found: %s", uri)
	default:
		v.Rule = rule
	}
	v.Subject = uri
	return v
}

// rewriteRequest removes the client capabilities the profile denies
// (initialize, and 2026-07-28 _meta) and adds mcpcell's own answers to
// input requests it withheld from the client. hasMeta says whether the
// request carries _meta, already looked up by the caller.
func (p *Policy) rewriteRequest(m *jsonrpc.Message, v jsonrpc.Verdict, hasMeta bool, r *reader) ([]byte, error) {
	frame := v.Frame
	params := m.Params
	if params == nil {
		return frame, nil
	}
	var denied []string
	for _, c := range []struct {
		on   bool
		name string
	}{{p.sampling, "sampling"}, {p.elicitation, "elicitation"}, {p.roots, "roots"}} {
		if !c.on {
			denied = append(denied, c.name)
		}
	}
	out := params
	var err error
	strip := func(caps []byte) ([]byte, error) { return jsontext.DropMembers(caps, denied...) }
	if m.Method == "initialize" {
		if out, err = jsontext.Edit(out, []string{"capabilities"}, strip); err != nil && !errors.Is(err, jsontext.ErrAbsent) {
			return nil, err
		}
	}
	if hasMeta {
		if out, err = jsontext.Edit(out, []string{"_meta", metaCaps}, strip); err != nil && !errors.Is(err, jsontext.ErrAbsent) {
			return nil, err
		}
	}
	if out, err = p.addCanned(m.Method, v.Subject, out, r); err != nil {
		return nil, err
	}
	if string(out) == string(params) {
		return frame, nil
	}
	return m.WithParams(out), nil
}

// wasListed reports whether a call to name may go on: before any tools/list
// every name may, after it only the names of the current listing.
func (p *Policy) wasListed(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listed.has(name)
}

// prompt decides a prompt by name, by the profile's rules and then the
// pinned surface: the verdict naming it and the rule that allows it, ok;
// or the refusal of an unknown prompt.
func (p *Policy) prompt(name string) (v jsonrpc.Verdict, ok bool) {
	allowed, rule := p.prompts.decide(name)
	if allowed {
		allowed, rule = p.pinnedRule("prompts", name, rule)
	}
	if !allowed {
		v = refuse(jsonrpc.CodeInvalidParams, rule, "Unknown prompt: %s", name)
		v.Subject = name
		return v, false
	}
	return jsonrpc.Verdict{Rule: rule, Subject: name}, true
}
