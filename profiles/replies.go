package profiles

import (
	"fmt"
	"strings"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// fromServer decides on a request or notification from the server.
func (p *Policy) fromServer(m *jsonrpc.Message) jsonrpc.Verdict {
	if m.Kind == jsonrpc.Notification {
		if !strings.HasPrefix(m.Method, "notifications/") {
			// A request without an id (elicitation/create, sampling/...):
			// a naive client would act on it around [client].
			return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: "server notifications",
				Note: fmt.Sprintf("dropped the server's notification %s: MCP's notifications are notifications/…", clipName(m.Method))}
		}
		if v := p.notificationInputs(m); v.Action != jsonrpc.Forward {
			return v
		}
		switch m.Method {
		case "notifications/resources/updated":
			var r reader
			uri, _ := r.str(m.Params, "uri")
			if r.bad != nil {
				return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: "strict-json", Note: "dropped the server's notifications/resources/updated: " + r.bad.Error()}
			}
			if allowed, rule, _ := p.resources.decideURI(uri, false); !allowed {
				return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: rule, Subject: uri}
			}
		case "notifications/elicitation/complete":
			if !p.elicitation {
				return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: "client.elicitation = false"}
			}
		}
		return jsonrpc.Verdict{Rule: "notification"}
	}
	if p.Version() >= V20260728 {
		return refuse(jsonrpc.CodeMethodNotFound, "protocol", "mcpcell: a server does not send requests on stdio in protocol %s", V20260728)
	}
	switch m.Method {
	case "ping", "tasks/get", "tasks/result", "tasks/list", "tasks/cancel":
		return jsonrpc.Verdict{Rule: p.methodRule(m.Method)}
	case "sampling/createMessage":
		if !p.sampling {
			return refuse(jsonrpc.CodeUserRejected, "client.sampling = false", "mcpcell: sampling is not allowed by the profile")
		}
		return jsonrpc.Verdict{Rule: "client.sampling = true"}
	case "elicitation/create":
		if !p.elicitation {
			return jsonrpc.Verdict{Action: jsonrpc.Answer, Result: []byte(`{"action":"decline"}`), Rule: "client.elicitation = false"}
		}
		return jsonrpc.Verdict{Rule: "client.elicitation = true"}
	case "roots/list":
		if !p.roots {
			return refuse(jsonrpc.CodeMethodNotFound, "client.roots = false", "Method not found: roots/list")
		}
		return jsonrpc.Verdict{Rule: "client.roots = true"}
	}
	return refuse(jsonrpc.CodeMethodNotFound, "unknown-method", "Method not found: %s", m.Method)
}

// Reply implements jsonrpc.Policy.
func (p *Policy) Reply(dir jsonrpc.Direction, c *jsonrpc.Call, m *jsonrpc.Message) jsonrpc.Verdict {
	if dir == jsonrpc.Up {
		return jsonrpc.Verdict{Rule: "reply"}
	}
	var r reader
	if v := p.settle(c, m, &r); v.Action != jsonrpc.Forward || r.bad != nil {
		return replySpelling(v, &r)
	}
	if m.Error != nil {
		return p.serverError(m.Error)
	}
	result := m.Result
	if jsontext.TypeOf(result) != "object" {
		return refuse(jsonrpc.CodeInternalError, "reply", "mcpcell: the server's %s result is not an object", c.Method)
	}
	// One pass over the result's members, however large its content.
	var resultType, isError, inputs, state, task, taskErr, taskResult []byte
	want := map[string]*[]byte{"resultType": &resultType, "isError": &isError, "inputRequests": &inputs, "requestState": &state}
	creates := c.Method == "tools/call" || c.Method == "prompts/get" || c.Method == "resources/read"
	if creates { // a CreateTaskResult's task, in either shape
		want["task"], want["error"], want["result"] = &task, &taskErr, &taskResult
	}
	r.members(result, want)
	if r.bad != nil {
		return replySpelling(jsonrpc.Verdict{}, &r)
	}
	rt, _ := jsontext.String(resultType)
	// Input requests are checked wherever they appear, whatever the
	// resultType says (clients act on inputRequests alone), and only
	// where a result may carry them.
	switch {
	case creates:
		edited, v := p.createdTask(result, task, taskErr, taskResult)
		if v.Action != jsonrpc.Forward {
			return v
		}
		if inputs != nil || rt == "input_required" {
			v = p.inputRequired(c, m, edited, inputs, state)
		}
		if v.Action == jsonrpc.Forward && v.Frame == nil && string(edited) != string(result) {
			v.Frame = m.WithResult(edited)
		}
		v.IsError = c.Method == "tools/call" && string(isError) == "true"
		return v
	case c.Method == "tasks/get" || c.Method == "tasks/cancel":
		return p.taskInputs(m)
	}
	if inputs != nil || rt == "input_required" {
		return refuse(jsonrpc.CodeInternalError, "input_required", "mcpcell: the server's %s result carries input requests, which only tools/call, prompts/get, resources/read, tasks/get and tasks/cancel results may", c.Method)
	}
	switch c.Method {
	case "tools/list":
		return p.listTools(c, m)
	case "prompts/list":
		return p.filterPinned(c, m, "prompts", "name", &p.prompts, plainName)
	case "resources/list":
		return p.filterList(m, "resources", "uri", &p.resources, uriName)
	case "resources/templates/list":
		v := p.filterPinned(c, m, "resourceTemplates", "uriTemplate", &p.resources, templateName)
		if v.Action == jsonrpc.Forward {
			v.Note = joinNotes(v.Note, p.templatedDenies(m.Result))
		}
		return v
	case "tasks/list":
		return p.listTasks(m)
	case "initialize", "server/discover":
		return p.pinInstructions(m)
	}
	return jsonrpc.Verdict{Rule: "reply"}
}

// replySpelling is v, or the refusal of a server's result with a member
// a client that folds case reads as one the policy reads.
func replySpelling(v jsonrpc.Verdict, r *reader) jsonrpc.Verdict {
	if r.bad == nil {
		return v
	}
	return refuse(jsonrpc.CodeInternalError, "strict-json", "mcpcell: the server sent an invalid response: invalid JSON: %v", r.bad)
}

// How keepEntries reads the names of a list.
const (
	plainName    = iota // a tool or prompt name
	uriName             // a resource URI
	templateName        // a resource template
)

// filterList keeps the list entries the rules allow. A list that cannot
// be read is refused, never passed.
func (p *Policy) filterList(m *jsonrpc.Message, field, key string, rs *ruleSet, kind int) jsonrpc.Verdict {
	kept, _, total, v := p.keepEntries(m, field, key, rs, kind)
	if v.Action != jsonrpc.Forward {
		return v
	}
	out := listVerdict(m, field, kept, total)
	if out.Action == jsonrpc.Forward {
		out.Note = v.Note
	}
	return out
}

// keepEntries reads the list in m's result member field and returns the
// entries the rules allow with their names (member key) and the keys the
// rules computed of them, and the number of entries; or the refusal of a
// list that cannot be read. The verdict's note counts the entries
// withheld for a name too long for a key.
func (p *Policy) keepEntries(m *jsonrpc.Message, field, key string, rs *ruleSet, kind int) (kept [][]byte, names []lazyKey, total int, v jsonrpc.Verdict) {
	var r reader
	list := r.get(m.Result, field)
	elems, err := jsontext.Elements(list)
	if r.bad != nil {
		return nil, nil, 0, replySpelling(jsonrpc.Verdict{}, &r)
	}
	if err != nil {
		return nil, nil, 0, refuse(jsonrpc.CodeInternalError, "list", "mcpcell: the server's list has no %q array", field)
	}
	kept = make([][]byte, 0, len(elems))
	long := 0
	for _, e := range elems {
		name, ok := r.str(e, key)
		if r.bad != nil {
			return nil, nil, 0, replySpelling(jsonrpc.Verdict{}, &r)
		}
		if !ok {
			return nil, nil, 0, refuse(jsonrpc.CodeInternalError, "list", "mcpcell: an entry of the server's %q list has no string %q", field, key)
		}
		k := lazyKey{name: name}
		allowed, rule := rs.entry(&k, kind)
		if allowed {
			kept = append(kept, e)
			names = append(names, k)
		} else if strings.HasPrefix(rule, rs.tooLong) {
			long++
		}
	}
	if long > 0 {
		v.Note = fmt.Sprintf("note: mcpcell withheld %d of the server's %s whose %s is longer than %d bytes: [%s] deny globs match every name that long (its key, which deny compares, is not computed)", long, field, key, maxKeyed, rs.kind)
	}
	return kept, names, len(elems), v
}

// entry decides on the entry of a list named k (see keepEntries).
func (rs *ruleSet) entry(k *lazyKey, kind int) (bool, string) {
	if kind == plainName {
		return rs.decideFold(k, true)
	}
	allowed, rule, _ := rs.decideURI(k.name, kind == templateName)
	return allowed, rule
}

// listVerdict passes a list result with only the entries kept of total.
func listVerdict(m *jsonrpc.Message, field string, kept [][]byte, total int) jsonrpc.Verdict {
	v := jsonrpc.Verdict{Rule: fmt.Sprintf("%s: %d of %d shown", field, len(kept), total)}
	if len(kept) == total {
		return v
	}
	out, err := jsontext.Edit(m.Result, []string{field}, func([]byte) ([]byte, error) { return jsontext.JoinArray(kept), nil })
	if err != nil {
		return refuse(jsonrpc.CodeInternalError, "list", "mcpcell: %v", err)
	}
	v.Frame = m.WithResult(out)
	return v
}

// unmatchedArgs names the [tools.args] keys that have matched none of the
// tools listed so far, each once a session: a misspelled key guards
// nothing. It is asked when a listing ends (a page without nextCursor).
func (p *Policy) unmatchedArgs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var notes []string
	for i := range p.args {
		k := &p.args[i]
		if p.unmatched[k.key] || p.listed.matched[i] {
			continue
		}
		if p.unmatched == nil {
			p.unmatched = map[string]bool{}
		}
		p.unmatched[k.key] = true
		notes = append(notes, fmt.Sprintf("tools.args.%s (%s)", tomlKey(k.key), k.from))
	}
	if len(notes) == 0 {
		return ""
	}
	verb := "matches none of the %d tools the server listed, so it constrains nothing; check the spelling"
	if len(notes) > 1 {
		verb = "match none of the %d tools the server listed, so they constrain nothing; check the spelling"
	}
	return "note: " + strings.Join(notes, ", ") + " " + fmt.Sprintf(verb, len(p.listed.current))
}

// templatedDenies notes, once a session each, the [resources] deny globs
// that name some but maybe not all of the URIs a listed template serves:
// a server reads a template's values its own way (server-everything
// serves resource 2 for 2, 02, 2.0 and 0x2), so such a deny cannot name
// every spelling of what it means to hide.
func (p *Policy) templatedDenies(result []byte) string {
	if len(p.resources.deny) == 0 {
		return ""
	}
	elems, _ := jsontext.Elements(jsontext.Lookup(result, "resourceTemplates"))
	p.mu.Lock()
	defer p.mu.Unlock()
	var notes []string
	for _, e := range elems {
		t, _ := jsontext.String(jsontext.Lookup(e, "uriTemplate"))
		if allowed, _, _ := p.resources.decideURI(t, true); !allowed {
			continue
		}
		tg := templateGlob(t)
		for _, r := range p.resources.deny {
			if p.templated[r.glob] || !globsMeet(r.glob, tg) || coversTemplate(r.glob, tg) {
				continue
			}
			if p.templated == nil {
				p.templated = map[string]bool{}
			}
			p.templated[r.glob] = true
			notes = append(notes, fmt.Sprintf("%s names some of the URIs of the server's template %q", r.desc, t))
		}
	}
	if len(notes) == 0 {
		return ""
	}
	return "note: " + strings.Join(notes, "; ") + ": a server reads a template's values its own way (2, 02 and 2.0 can be one resource), so a deny glob cannot name every spelling; allow only what the client needs instead"
}

// templateGlob is a URI glob that matches what a resource template
// serves, and more: each {expression} may be anything.
func templateGlob(t string) string {
	canon, err := CanonicalURI(t)
	if err != nil {
		canon = t
		if scheme, rest, ok := cutScheme(t); ok {
			canon = strings.ToLower(scheme) + ":" + rest
		}
	}
	var b strings.Builder
	for i := 0; i < len(canon); i++ {
		if canon[i] == '{' {
			if j := strings.IndexByte(canon[i:], '}'); j > 0 {
				b.WriteString("**")
				i += j
				continue
			}
		}
		if strings.IndexByte(`*?[\`, canon[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(canon[i])
	}
	return b.String()
}

// coversTemplate reports whether every URI template glob tg matches, deny
// matches too: decided where deny is a literal prefix and ** or where
// globCovers decides it.
func coversTemplate(deny, tg string) bool {
	if prefix, ok := strings.CutSuffix(deny, "**"); ok && !strings.ContainsAny(prefix, `*?[\`) && strings.HasPrefix(tg, prefix) {
		return true
	}
	return globCovers(deny, tg)
}
