package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/internal/utf8cut"
	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/profiles"
)

// maxConsentAsks is how many changes mcpcell asks the user about in one
// session: a server that changes 10,000 tools gets three questions and a
// note, not 10,000 dialogs in the client.
const maxConsentAsks = 3

// maxConsentText bounds a question, in bytes: a dialog shows this much
// whole. A change that does not fit is not asked about at all (an accept
// would approve what the user could not see): mcpcell trust --tools
// shows it.
const maxConsentText = 2000

// consentRule is the audit rule of mcpcell's own questions to the user.
const consentRule = "consent"

// consent asks the user, through the client's elicitation, whether to
// approve an entry of the server's surface (a tool, prompt or resource
// template) that is new or changed since the user trusted it and is
// withheld for that. It never holds anything back itself: the entry stays
// withheld, and its refusal, stderr line and audit record stand as they
// are, until the user accepts; then approve records the approval and the
// client is told to list again. A client that cannot be asked (no form
// elicitation, or a protocol version without server requests) is not:
// `mcpcell trust --tools` approves instead.
type consent struct {
	session *jsonrpc.Session
	pol     elicitor
	server  string // the server, for the user: the profile's name
	review  string // the command that reviews a change, for notes

	mu    sync.Mutex
	asked map[string]bool // kind, name and digest asked about this session
	n     int             // questions asked this session
	full  bool            // the note that no more are asked was said
}

// elicitor says whether the client can be asked (*profiles.Policy).
type elicitor interface{ ClientElicits() bool }

// listChanged is the notification that makes a client list kind again.
var listChanged = map[string]string{
	"tool":              "notifications/tools/list_changed",
	"prompt":            "notifications/prompts/list_changed",
	"resource template": "notifications/resources/list_changed",
}

// Changed is called when an entry of kind ("tool", "prompt" or "resource
// template") named name, whose canonical definition canon has the digest
// digest, is withheld because it is new (what is "new") or changed (what
// names the members that changed, as "description, inputSchema") since
// the user trusted the server's surface. If the client can be asked, and
// this entry in this definition was not asked about in this session, and
// fewer than maxConsentAsks were, the user is asked, shown what changed
// whole (consentMessage); on accept approve, which approves exactly canon,
// is called and the client gets the kind's list_changed. A change too long
// to show whole is not asked about. Changed never blocks on the client:
// it may be called from the Policy, on the server's pump.
func (c *consent) Changed(kind, name, digest, what string, canon []byte, approve func() error) {
	notify, ok := listChanged[kind]
	if !ok || !c.pol.ClientElicits() {
		return
	}
	subject := kind + " " + utf8cut.Marked(name, 128)
	key := kind + "\x00" + name + "\x00" + digest
	msg := consentMessage(c.server, kind, name, what, canon)
	c.mu.Lock()
	switch {
	case c.asked[key]:
		c.mu.Unlock()
		return
	case len(msg) > maxConsentText:
		if c.asked == nil {
			c.asked = map[string]bool{}
		}
		c.asked[key] = true
		c.mu.Unlock()
		review := c.review
		if review == "" {
			review = "mcpcell trust --tools"
		}
		c.session.Record(jsonrpc.Event{Dir: jsonrpc.Down, Subject: subject, Decision: "unasked", Rule: consentRule,
			Note: fmt.Sprintf("the %s is %d bytes to show, more than a question shows whole (%d): it stays withheld", changeWords(kind, what), len(msg), maxConsentText)},
			fmt.Sprintf("the change to the %s %s is too long to show whole in a question, so the client is not asked: it stays withheld; review and approve it with %s", kind, showQuoted(utf8cut.Marked(name, 128)), review))
		return
	case c.n >= maxConsentAsks:
		first := !c.full
		c.full = true
		c.mu.Unlock()
		if first {
			c.session.Record(jsonrpc.Event{Dir: jsonrpc.Down, Subject: subject, Decision: "unasked", Rule: consentRule,
				Note: fmt.Sprintf("more changes than mcpcell asks about in one session (%d): they stay withheld", maxConsentAsks)},
				fmt.Sprintf("asked the client about %d changes, the most mcpcell asks in a session; the others stay withheld: review them with mcpcell trust --tools", maxConsentAsks))
		}
		return
	}
	if c.asked == nil {
		c.asked = map[string]bool{}
	}
	c.asked[key] = true
	c.n++
	c.mu.Unlock()

	params := `{"message":` + string(jsontext.Quote(msg)) + `,"requestedSchema":{"type":"object","properties":{}}}`
	var (
		idMu sync.Mutex
		id   jsonrpc.ID
	)
	askID, err := c.session.Ask("elicitation/create", []byte(params),
		jsonrpc.Event{Subject: subject, Rule: consentRule, Note: "asked the user through the client to approve the " + changeWords(kind, what)},
		func(result []byte, e *jsonrpc.Error) {
			idMu.Lock()
			id := id
			idMu.Unlock()
			c.answer(id, kind, name, subject, what, notify, result, e, approve)
		})
	if err != nil {
		c.session.Record(jsonrpc.Event{Dir: jsonrpc.Down, Subject: subject, Decision: "unasked", Rule: consentRule, Note: "could not ask the client: " + err.Error()}, "")
		return
	}
	idMu.Lock()
	id = askID
	idMu.Unlock()
}

// answer acts on the client's answer to a question: only an accept
// approves. Each outcome is one audit record.
func (c *consent) answer(id jsonrpc.ID, kind, name, subject, what, notify string, result []byte, e *jsonrpc.Error, approve func() error) {
	ev := jsonrpc.Event{Dir: jsonrpc.Up, Kind: jsonrpc.Response, Method: "elicitation/create", ID: id, Subject: subject, Rule: consentRule}
	quoted := showQuoted(utf8cut.Marked(name, 128))
	var action string
	if e == nil {
		action, _ = jsontext.String(jsontext.Lookup(result, "action"))
	}
	switch {
	case e != nil && e.Message == jsonrpc.Unanswered:
		ev.Decision, ev.Note = "unanswered", "the session ended before the user answered; the "+kind+" stays withheld"
		c.session.Record(ev, "")
	case e != nil:
		ev.Decision, ev.Note = "error", fmt.Sprintf("the client answered with an error (%d %s); the %s stays withheld", e.Code, utf8cut.Marked(e.Message, 200), kind)
		c.session.Record(ev, "")
	case action == "accept":
		if err := approve(); err != nil {
			ev.Decision, ev.Note = "error", "the user approved, but the approval could not be recorded: "+err.Error()
			c.session.Record(ev, fmt.Sprintf("error: the user approved the %s %s through the client, but mcpcell could not record it: %v", kind, quoted, err))
			return
		}
		ev.Decision, ev.Note = "approved", "the user approved the "+changeWords(kind, what)+" through the client"
		c.session.Record(ev, fmt.Sprintf("the user approved the %s %s through the client; it is listed again", kind, quoted))
		if err := c.session.Notify(notify, nil, consentRule); err != nil {
			c.session.Record(jsonrpc.Event{Dir: jsonrpc.Down, Method: notify, Subject: subject, Decision: "error", Rule: consentRule, Note: "could not tell the client to list again: " + err.Error()}, "")
		}
	case action == "decline", action == "cancel":
		ev.Decision = map[string]string{"decline": "declined", "cancel": "cancelled"}[action]
		ev.Note = "the user did not approve; the " + kind + " stays withheld"
		c.session.Record(ev, "")
	default:
		ev.Decision, ev.Note = "declined", fmt.Sprintf("the client answered action %s, which approves nothing; the %s stays withheld", showQuoted(utf8cut.Marked(action, 40)), kind)
		c.session.Record(ev, "")
	}
}

// changeWords names a change for the audit log: "changed tool (description)".
func changeWords(kind, what string) string {
	if what == "" || what == "new" {
		return "new " + kind
	}
	return "changed " + kind + " (" + what + ")"
}

// consentMessage is the question put to the user: for a new entry its
// whole definition, for a changed one the new value of each member that
// changed (or the whole definition when what names no members), as
// indented JSON with escapes shown, as trust --tools shows it. Nothing of
// it is clipped but the name in the first line, which the JSON holds
// whole: Changed does not ask a question longer than maxConsentText.
func consentMessage(server, kind, name, what string, canon []byte) string {
	n := showQuoted(utf8cut.Marked(name, 128))
	if what == "" || what == "new" {
		return fmt.Sprintf("mcpcell: the server %q added the %s %s since you trusted it. Its definition:\n%sApprove it?", server, kind, n, indentJSON(string(canon)))
	}
	shown, ok := changedValues(what, canon)
	if !ok {
		return fmt.Sprintf("mcpcell: the server %q changed the %s %s since you trusted it (%s). Its new definition:\n%sApprove the new definition?", server, kind, n, printable(what), indentJSON(string(canon)))
	}
	return fmt.Sprintf("mcpcell: the server %q changed the %s %s since you trusted it (%s). What changed, as it is now:\n%sApprove the new definition?", server, kind, n, printable(what), shown)
}

// changedValues is, for what ("description, inputSchema", a member name
// the server chose quoted as strconv.Quote quotes it), the new value of
// each member in canon as one indented JSON object, and a line naming the
// members canon no longer has. ok is false when what cannot be read as
// member names, or canon as an object.
func changedValues(what string, canon []byte) (string, bool) {
	members, ok := memberNames(what)
	if !ok {
		return "", false
	}
	var def map[string]json.RawMessage
	if err := json.Unmarshal(canon, &def); err != nil || def == nil {
		return "", false
	}
	var obj bytes.Buffer
	var removed []string
	obj.WriteByte('{')
	for _, m := range members {
		v, present := def[m]
		if !present {
			removed = append(removed, showQuoted(m))
			continue
		}
		if obj.Len() > 1 {
			obj.WriteByte(',')
		}
		k, _ := json.Marshal(m)
		obj.Write(k)
		obj.WriteByte(':')
		obj.Write(v)
	}
	obj.WriteByte('}')
	out := ""
	if obj.Len() > 2 {
		out = indentJSON(obj.String())
	}
	if len(removed) > 0 {
		out += printable("removed: "+strings.Join(removed, ", ")) + "\n"
	}
	return out, true
}

// memberNames reads what, as trust's Judge writes it: member names
// separated by ", ", each plain or quoted.
func memberNames(what string) ([]string, bool) {
	var out []string
	for rest := what; ; {
		var name string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, false
			}
			if name, err = strconv.Unquote(q); err != nil {
				return nil, false
			}
			rest = rest[len(q):]
		} else {
			i := strings.Index(rest, ", ")
			if i < 0 {
				i = len(rest)
			}
			name, rest = rest[:i], rest[i:]
			if !plainMember(name) {
				return nil, false
			}
		}
		out = append(out, name)
		if rest == "" {
			return out, true
		}
		if !strings.HasPrefix(rest, ", ") {
			return nil, false
		}
		rest = rest[2:]
	}
}

// plainMember reports whether trust writes a member name as it is (see
// trust's changedMembers): ASCII letters, digits, '_', '-', '.' and '$',
// at most 64 of them. "definition" (no members kept to compare) is none.
func plainMember(k string) bool {
	if k == "" || len(k) > 64 || k == "definition" {
		return false
	}
	for _, c := range []byte(k) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '$') {
			return false
		}
	}
	return true
}

// printable is s with every character a terminal or a dialog would not
// show as itself (see invisible) escaped as strconv.Quote escapes it
// (\n, \u202e, \x00, \U000e0001, \ufe0f), and invalid UTF-8. Quotes and backslashes stay as they are, so that
// JSON text keeps its look; strconv.Quote is for a string that must be
// quoted whole.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case invisible(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// printableLines is text, lines of it, each shown through printable.
func printableLines(text string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		body, nl := strings.CutSuffix(l, "\n")
		b.WriteString(printable(body))
		if nl {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// invisible reports whether a terminal or a dialog may show r as nothing,
// or as other than itself: what strconv.IsPrint refuses (controls, format
// characters such as bidi overrides and zero-width ones, separators but
// the ASCII space), and the characters Unicode says to ignore by default
// that it lets through: variation selectors (a run of them after an
// emoji can carry a hidden message byte by byte) and fillers such as
// U+3164.
func invisible(r rune) bool {
	return !strconv.IsPrint(r) || unicode.In(r, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf)
}

// showQuoted is s quoted for people, with every invisible character
// escaped.
func showQuoted(s string) string { return printable(strconv.Quote(s)) }

// serverLabel names the server for the user: the profile's file name
// (".mcpcell.github.toml" is "github", a ".mcpcell.toml" its folder's), or
// for an embedded profile the command's.
func serverLabel(p *profiles.Profile, command []string) string {
	if embedded(p) && len(command) > 0 {
		return filepath.Base(command[0])
	}
	name := p.Name
	if i := strings.LastIndexByte(name, '-'); i > 0 && len(name)-i == 9 {
		name = name[:i] // the digest of the profile's path
	}
	return strings.TrimPrefix(name, "mcpcell.")
}
