package profiles

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/internal/utf8cut"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// Policy answers, for every message, what the profile allows. Build it
// once with Compile; it keeps the session's state under mu: the protocol
// version, the client, the current listing and the answers it withheld.
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
	// pins is the tool surface the user approved (nil: not pinned), and
	// pinned what the session keeps of it, under mu.
	pins     Pins
	withheld Withheld
	pinned   pinState
}

// methodRule is the rule a method allowed as such is recorded with.
func (p *Policy) methodRule(method string) string { return "method " + method }

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
	// The rules named when no glob of the profile decides: allow is
	// absent, or no allow glob matches.
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

// clipName quotes a name a peer chose for a note, cut to 100 bytes.
func clipName(s string) string {
	if len(s) > 100 {
		return strconv.Quote(utf8cut.Cut(s, 100)) + "…"
	}
	return strconv.Quote(s)
}

// joinNotes joins the notes that are not empty.
func joinNotes(notes ...string) string {
	return strings.Join(slices.DeleteFunc(notes, func(n string) bool { return n == "" }), "; ")
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strconv.Quote(s)
	}
	return out
}
