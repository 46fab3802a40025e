package profiles

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/internal/utf8cut"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// MCP protocol versions with behaviour that differs for a proxy.
const (
	V20250326 = "2025-03-26" // batches
	V20251125 = "2025-11-25" // argument errors become isError results
	V20260728 = "2026-07-28" // no initialize; _meta on every request
)

// _meta keys of the 2026-07-28 protocol.
const (
	metaVersion = "io.modelcontextprotocol/protocolVersion"
	metaClient  = "io.modelcontextprotocol/clientInfo"
	metaCaps    = "io.modelcontextprotocol/clientCapabilities"
)

// Policy answers, for every message, what the profile allows. Build it
// once with Compile; it keeps the session's protocol version and client.
type Policy struct {
	tools, resources, prompts ruleSet
	args                      []argKey
	sampling, elicitation     bool
	roots                     bool
	names                     []string
	cwd                       string

	mu sync.Mutex
	// version is the session's protocol version: fixed by the result of
	// initialize, or by the first result to a request that declared a
	// version of 2026-07-28 or later in its _meta; until then, the
	// version an initialize in flight (or such a request) named.
	version string
	fixed   bool
	// initializing says an initialize is in flight.
	initializing bool
	client       string
	// elicits is what the client's initialize declared of elicitation
	// (see ClientElicits).
	elicits elicitCaps
	// listed holds the tool names of the server's current listing
	// (after filtering); once a listing has been seen, other names are
	// unknown.
	listed listing
	// unmatched holds the [tools.args] keys already noted as matching
	// no listed tool.
	unmatched map[string]bool
	// templated holds the [resources] deny globs already noted as naming
	// some of what a resource template serves.
	templated map[string]bool
	// canned holds the names of the input requests mcpcell removed from
	// input_required results, which it declines when the client retries
	// (see cannedKey); cannedBytes is what they count against
	// maxCannedBytes.
	canned      map[digest][]string
	cannedBytes int
	// methodRules holds "method NAME", the rule of a method allowed as
	// such, made once per method rather than once per frame.
	methodRules sync.Map
	// pins is the tool surface the user approved (nil: not pinned), and
	// pinned what the session keeps of it, under mu.
	pins     Pins
	withheld Withheld
	pinned   pinState
}

// methodRule is the rule a method allowed as such is recorded with.
func (p *Policy) methodRule(method string) string {
	if r, ok := p.methodRules.Load(method); ok {
		return r.(string)
	}
	r := "method " + method
	p.methodRules.Store(method, r)
	return r
}

// Compile builds the Policy a profile implies.
func Compile(p *Profile) (*Policy, error) {
	pol := &Policy{
		sampling: p.Sampling, elicitation: p.Elicitation, roots: p.Roots,
		names: p.ClientNames, cwd: p.Cwd,
		canned: map[digest][]string{},
	}
	var err error
	if pol.tools, err = compileRules("tools", p.Tools, false); err != nil {
		return nil, err
	}
	if pol.resources, err = compileRules("resources", p.Resources, true); err != nil {
		return nil, err
	}
	if pol.prompts, err = compileRules("prompts", p.Prompts, false); err != nil {
		return nil, err
	}
	if pol.args, err = compileArgs(p); err != nil {
		return nil, err
	}
	pol.listed.matched = make([]bool, len(pol.args))
	return pol, nil
}

// ClientName is the name the client gave, once known.
func (p *Policy) ClientName() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.client
}

// Version is the protocol version in use, once known.
func (p *Policy) Version() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

// Batches reports whether arrays of messages are allowed: only in a
// session that initialize fixed at 2025-03-26.
func (p *Policy) Batches() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fixed && p.version == V20250326
}

type rule struct {
	re *regexp.Regexp
	// fold matches a name when re matches a name with the same key
	// (deny rules only; see keyGlob).
	fold *keyGlob
	glob string
	desc string
}

type ruleSet struct {
	kind        string
	allow, deny []rule
	allowAll    bool
	// The rules decide quotes when no glob of the profile does.
	allowedAll, noMatch string
	// tooLong is the rule that denies a name longer than maxKeyed.
	tooLong string
}

func compileRules(kind string, r Rules, uri bool) (ruleSet, error) {
	rs := ruleSet{kind: kind, allowAll: !r.AllowSet,
		allowedAll: kind + ".allow absent: all allowed", noMatch: kind + ".allow: no glob matches",
		tooLong: fmt.Sprintf("%s.deny: a name longer than %d bytes, which every deny glob matches", kind, maxKeyed)}
	for _, list := range []struct {
		dst     *[]rule
		entries []Entry
		verb    string
	}{{&rs.allow, r.Allow, "allow"}, {&rs.deny, r.Deny, "deny"}} {
		for _, e := range list.entries {
			re, err := compileGlob(e.Value, uri)
			if err != nil {
				return rs, &Error{At: e.From, Msg: err.Error()}
			}
			if why := neverMatches(e.Value); uri && why != "" {
				return rs, &Error{At: e.From, Msg: fmt.Sprintf("%s.%s: glob %q can never match: %s", kind, list.verb, e.Value, why)}
			}
			r := rule{re: re, glob: e.Value, desc: fmt.Sprintf("%s.%s %q (%s)", kind, list.verb, e.Value, e.From)}
			if list.verb == "deny" {
				if r.fold, err = compileKeyGlob(e.Value, uri); err != nil {
					return rs, &Error{At: e.From, Msg: fmt.Sprintf("%s.%s: glob %q: %v", kind, list.verb, e.Value, err)}
				}
			}
			*list.dst = append(*list.dst, r)
		}
	}
	return rs, nil
}

// decideURI decides on uri by its canonical form (CanonicalURI); err is
// why uri itself is refused. A deny glob also decides on the canonical
// form without its query: a server may look a resource up by its path.
// A template (a resource template's uriTemplate, a completion reference)
// whose expressions make it no URI is decided as written (scheme in
// lower case): a template names no resource itself, reads do. A deny
// glob denies a template when it matches a name with the same key (see
// keyGlob), as for tool and prompt names.
func (rs *ruleSet) decideURI(uri string, template bool) (allowed bool, rule string, err error) {
	canon, err := CanonicalURI(uri)
	if err != nil && template && strings.ContainsAny(uri, "{}") {
		if scheme, rest, ok := cutScheme(uri); ok && len(scheme) > 1 && utf8.ValidString(uri) && !strings.ContainsFunc(uri, isControlOrBackslash) {
			canon, err = strings.ToLower(scheme)+":"+rest, nil
		}
	}
	if err != nil {
		return false, rs.kind + ": URI refused: " + err.(*URIError).Reason, err
	}
	// A file the server opens is the one its path leads to: mcpcell sees
	// the server's files, and follows each symbolic link as within does.
	// That file must be allowed too (deny wins on either spelling).
	if path, ok := strings.CutPrefix(canon, "file://"); ok && !template {
		real, why := resolveWithin(path)
		if why != "" {
			return false, rs.kind + ": URI refused: the file " + why, &URIError{URI: uri, Reason: "names a file that " + why}
		}
		if real != path {
			if ok, rule := rs.decideFold(&lazyKey{name: "file://" + real}, false); !ok {
				return false, rule + ", on file://" + real + " (symbolic links followed)", nil
			}
		}
	}
	if base, _, ok := strings.Cut(canon, "?"); ok && !strings.HasPrefix(canon, "file:") {
		if denied, rule := rs.denied(&lazyKey{name: base}, template); denied {
			return false, rule + ", on " + base, nil
		}
	}
	allowed, rule = rs.decideFold(&lazyKey{name: canon}, template)
	if canon != uri {
		rule += ", on " + canon
	}
	return allowed, rule, nil
}

// denied reports whether a deny rule matches k's name, or with fold a
// name with its key, and which rule. The key is computed once, for all
// the rules and for what the caller asks of k after; a name too long for
// a key is denied (see maxKeyed).
func (rs *ruleSet) denied(k *lazyKey, fold bool) (bool, string) {
	name := k.name
	for _, r := range rs.deny {
		var hit bool
		if fold && r.fold != nil {
			hit = r.fold.match(k.get())
		} else {
			hit = r.re.MatchString(name)
		}
		if hit {
			if k.done && k.k.long {
				return true, rs.tooLong
			}
			return true, r.desc
		}
	}
	return false, ""
}

func isControlOrBackslash(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }

// decide says whether the tool or prompt name is allowed, and which rule
// said so. Deny wins, when it matches a name with the key of name (see
// keyGlob): a server may map case or normalise, and to it "HIDDEN" and
// "hıdden" are the hidden tool. Allow must match the name as written.
func (rs *ruleSet) decide(name string) (bool, string) {
	return rs.decideFold(&lazyKey{name: name}, true)
}

// decideFold is decide for k's name, with deny matching the name as
// written unless fold is set.
func (rs *ruleSet) decideFold(k *lazyKey, fold bool) (bool, string) {
	name := k.name
	if denied, rule := rs.denied(k, fold); denied {
		return false, rule
	}
	if rs.allowAll {
		return true, rs.allowedAll
	}
	for _, r := range rs.allow {
		if r.re.MatchString(name) {
			return true, r.desc
		}
	}
	return false, rs.noMatch
}

// Message implements jsonrpc.Policy.
func (p *Policy) Message(dir jsonrpc.Direction, m *jsonrpc.Message) jsonrpc.Verdict {
	if dir == jsonrpc.Up {
		return p.fromClient(m)
	}
	return p.fromServer(m)
}

func refuse(code int, rule, format string, args ...any) jsonrpc.Verdict {
	return jsonrpc.Verdict{Action: jsonrpc.Refuse, Rule: rule, Err: &jsonrpc.Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

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

// modern reports whether v is a protocol version that every request
// declares in its _meta (2026-07-28 on); older ones are negotiated by
// initialize alone.
func modern(v string) bool { return v >= V20260728 }

// declared checks the protocol version a request names against the
// session's and returns the version to decide the request in. A session
// keeps one version: initialize (once its result came) or the first
// modern request the server answered fixes it, and a request that names
// another one in its _meta is refused, so that no request moves the
// policy (batches, the notifications a client may send, error codes)
// away from what the server speaks. Nothing changes here: declare
// commits once the request is forwarded.
func (p *Policy) declared(method, initVersion, declared string) (string, jsonrpc.Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if method == "initialize" {
		switch {
		case p.fixed:
			return "", refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: the session's protocol version is already %s: it is not initialized again", p.version)
		case p.initializing:
			return "", refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: an initialize is already in flight")
		}
		if declared != "" && declared != initVersion {
			return "", refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: initialize names protocol version %q, its _meta %q", initVersion, declared)
		}
		return initVersion, jsonrpc.Verdict{}
	}
	switch {
	case declared == "":
		return p.version, jsonrpc.Verdict{}
	case p.fixed && declared != p.version:
		return "", p.mismatch(declared)
	case p.fixed:
		return p.version, jsonrpc.Verdict{}
	case !modern(declared):
		// Not a declaration: an older version is negotiated by
		// initialize. Once known, another one is refused all the same.
		if p.version != "" && declared != p.version {
			return "", p.mismatch(declared)
		}
		return cmp.Or(p.version, declared), jsonrpc.Verdict{}
	case p.initializing:
		return "", refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: an initialize for protocol version %s is in flight; a request for %s is refused", p.version, declared)
	}
	return declared, jsonrpc.Verdict{}
}

// mismatch refuses a request that names another version than the
// session's: in a modern session as a server refuses a version it does
// not support (-32022, naming the one it does), so that a client can
// retry in it.
func (p *Policy) mismatch(declared string) jsonrpc.Verdict {
	if modern(p.version) {
		v := refuse(codeUnsupportedVersion, "protocol-version", "mcpcell: this session speaks protocol version %s, not %s", p.version, declared)
		v.Err.Data = []byte(`{"supported":[` + string(jsontext.Quote(p.version)) + `],"requested":` + string(jsontext.Quote(declared)) + `}`)
		return v
	}
	return refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: this session speaks protocol version %s (fixed by initialize), not %s", p.version, declared)
}

// codeUnsupportedVersion is 2026-07-28's UnsupportedProtocolVersionError.
const codeUnsupportedVersion = -32022

// declare commits what a forwarded request says of the version: an
// initialize is in flight, and its version stands until its result
// fixes one; a modern version stands until a result fixes one. It
// refuses the request when a result fixed another version since declared
// looked.
func (p *Policy) declare(method, initVersion, declared string) jsonrpc.Verdict {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case method == "initialize":
		if p.fixed || p.initializing {
			return refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: the session's protocol version is already %s: it is not initialized again", p.version)
		}
		p.initializing, p.version = true, initVersion
	case declared == "" || !modern(declared):
	case p.fixed && declared != p.version:
		return p.mismatch(declared)
	case !p.fixed && p.version == "":
		p.version = declared
	}
	return jsonrpc.Verdict{}
}

// settle fixes the session's version from the server's answer to a
// request c: the initialize result's protocolVersion, or, for a request
// that declared a modern version, the version the server answered in. It
// returns a refusal when an initialize result names no version.
func (p *Policy) settle(c *jsonrpc.Call, m *jsonrpc.Message, r *reader) jsonrpc.Verdict {
	st, _ := c.State.(callState)
	if c.Method != "initialize" && !modern(st.declared) {
		return jsonrpc.Verdict{Rule: "reply"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.Method == "initialize" {
		p.initializing = false
		if m.Error != nil {
			if !p.fixed {
				p.version = ""
			}
			return jsonrpc.Verdict{Rule: "reply"}
		}
		v, ok := r.str(m.Result, "protocolVersion")
		if r.bad != nil {
			return jsonrpc.Verdict{}
		}
		if !ok || v == "" {
			if !p.fixed {
				p.version = ""
			}
			return refuse(jsonrpc.CodeInternalError, "protocol-version", "mcpcell: the server's initialize result names no protocolVersion")
		}
		if !p.fixed {
			p.version, p.fixed = v, true
		}
		return jsonrpc.Verdict{Rule: "reply"}
	}
	switch {
	case p.fixed:
	case m.Error == nil:
		p.version, p.fixed = st.declared, true
	case p.version == st.declared && !p.initializing:
		// A probe a legacy server refused: initialize may follow.
		p.version = ""
	}
	return jsonrpc.Verdict{Rule: "reply"}
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

// clipName quotes a name a peer chose for a note, cut to 100 bytes.
func clipName(s string) string {
	if len(s) > 100 {
		return strconv.Quote(utf8cut.Cut(s, 100)) + "…"
	}
	return strconv.Quote(s)
}

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
		shape := Shape(args)
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
		allowed, rule := p.prompts.decide(name)
		if allowed {
			allowed, rule = p.pinnedRule("prompts", name, rule)
		}
		if !allowed {
			v := refuse(jsonrpc.CodeInvalidParams, rule, "Unknown prompt: %s", name)
			v.Subject = name
			return v
		}
		return jsonrpc.Verdict{Rule: rule, Subject: name, Shape: Shape(r.get(params, "arguments"))}
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
			allowed, rule := p.prompts.decide(name)
			if allowed {
				allowed, rule = p.pinnedRule("prompts", name, rule)
			}
			if !allowed {
				v := refuse(jsonrpc.CodeInvalidParams, rule, "Unknown prompt: %s", name)
				v.Subject = name
				return v
			}
			return jsonrpc.Verdict{Rule: "prompts", Subject: name}
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

func (p *Policy) versionOr(version string) string {
	if version != "" {
		return version
	}
	return p.Version()
}

// argViolation is how a broken argument constraint is reported: a tool
// result with isError from 2025-11-25 on, -32602 before.
func (p *Policy) argViolation(m *jsonrpc.Message, version, msg string) jsonrpc.Verdict {
	if v := p.versionOr(version); v != "" && v < V20251125 {
		return refuse(jsonrpc.CodeInvalidParams, "", "%s", msg)
	}
	return jsonrpc.Verdict{Action: jsonrpc.Answer, IsError: true, Result: toolError(msg)}
}

func toolError(msg string) []byte {
	return []byte(`{"content":[{"type":"text","text":` + string(jsontext.Quote(msg)) + `}],"isError":true}`)
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

// How filterList reads the names of a list.
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

// joinNotes joins the notes that are not empty.
func joinNotes(notes ...string) string {
	return strings.Join(slices.DeleteFunc(notes, func(n string) bool { return n == "" }), "; ")
}

// keepEntries reads the list in m's result member field and returns the
// entries the rules allow with their names (member key) and the keys the
// rules computed of them, and the number
// of entries; or the refusal of a list that cannot be read. The verdict's
// note counts the entries withheld for a name too long for a key.
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
		var allowed bool
		var rule string
		k := lazyKey{name: name}
		if kind == plainName {
			allowed, rule = rs.decideFold(&k, true)
		} else {
			allowed, rule, _ = rs.decideURI(name, kind == templateName)
		}
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

// wasListed reports whether a call to name may go on: before any tools/list
// every name may, after it only the names of the current listing.
func (p *Policy) wasListed(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listed.has(name)
}

// Shape lists argument names with their JSON types, never their values.
func Shape(args []byte) string {
	var room [128]byte
	b := room[:0]
	err := jsontext.EachMember(args, func(name, value []byte) bool {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, name...), ':'), jsontext.TypeOf(value)...)
		return true
	})
	if err != nil {
		return ""
	}
	return string(b)
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strconv.Quote(s)
	}
	return out
}
