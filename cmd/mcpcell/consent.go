package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/profiles"
)

// maxConsentAsks is how many changes mcpcell asks the user about in one
// session: a server that changes 10,000 tools gets three questions and a
// note, not 10,000 dialogs in the client.
const maxConsentAsks = 3

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
	ip     *jsonrpc.Interposer
	pol    elicitor
	server string // the server, for the user: the profile's name

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
// template") named name, whose definition has the digest digest, is
// withheld because it is new (what is "new") or changed (what names the
// fields that changed, as "description, inputSchema") since the user
// trusted the server's surface. description is the new definition's
// description. If the client can be asked, and this entry in this
// definition was not asked about in this session, and fewer than
// maxConsentAsks were, the user is asked; on accept approve is called and
// the client gets the kind's list_changed. Changed never blocks on the
// client: it may be called from the Policy, on the server's pump.
func (c *consent) Changed(kind, name, digest, what, description string, approve func() error) {
	notify, ok := listChanged[kind]
	if !ok || !c.pol.ClientElicits() {
		return
	}
	subject := kind + " " + clipText(name, 128)
	key := kind + "\x00" + name + "\x00" + digest
	c.mu.Lock()
	switch {
	case c.asked[key]:
		c.mu.Unlock()
		return
	case c.n >= maxConsentAsks:
		first := !c.full
		c.full = true
		c.mu.Unlock()
		if first {
			c.ip.Record(jsonrpc.Event{Dir: jsonrpc.Down, Subject: subject, Decision: "unasked", Rule: consentRule,
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

	msg := consentMessage(c.server, kind, name, what, description)
	params := `{"message":` + string(jsonrpc.Quote(msg)) + `,"requestedSchema":{"type":"object","properties":{}}}`
	var (
		idMu sync.Mutex
		id   jsonrpc.ID
	)
	askID, err := c.ip.Ask("elicitation/create", []byte(params),
		jsonrpc.Event{Subject: subject, Rule: consentRule, Note: "asked the user through the client to approve the " + changeWords(kind, what)},
		func(result []byte, e *jsonrpc.Error) {
			idMu.Lock()
			id := id
			idMu.Unlock()
			c.answer(id, kind, name, subject, what, notify, result, e, approve)
		})
	if err != nil {
		c.ip.Record(jsonrpc.Event{Dir: jsonrpc.Down, Subject: subject, Decision: "unasked", Rule: consentRule, Note: "could not ask the client: " + err.Error()}, "")
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
	quoted := strconv.Quote(clipText(name, 128))
	var action string
	if e == nil {
		action, _ = jsonrpc.String(jsonrpc.Lookup(result, "action"))
	}
	switch {
	case e != nil && e.Message == jsonrpc.Unanswered:
		ev.Decision, ev.Note = "unanswered", "the session ended before the user answered; the "+kind+" stays withheld"
		c.ip.Record(ev, "")
	case e != nil:
		ev.Decision, ev.Note = "error", fmt.Sprintf("the client answered with an error (%d %s); the %s stays withheld", e.Code, clipText(e.Message, 200), kind)
		c.ip.Record(ev, "")
	case action == "accept":
		if err := approve(); err != nil {
			ev.Decision, ev.Note = "error", "the user approved, but the approval could not be recorded: "+err.Error()
			c.ip.Record(ev, fmt.Sprintf("error: the user approved the %s %s through the client, but mcpcell could not record it: %v", kind, quoted, err))
			return
		}
		ev.Decision, ev.Note = "approved", "the user approved the "+changeWords(kind, what)+" through the client"
		c.ip.Record(ev, fmt.Sprintf("the user approved the %s %s through the client; it is listed again", kind, quoted))
		if err := c.ip.Notify(notify, nil, consentRule); err != nil {
			c.ip.Record(jsonrpc.Event{Dir: jsonrpc.Down, Method: notify, Subject: subject, Decision: "error", Rule: consentRule, Note: "could not tell the client to list again: " + err.Error()}, "")
		}
	case action == "decline", action == "cancel":
		ev.Decision = map[string]string{"decline": "declined", "cancel": "cancelled"}[action]
		ev.Note = "the user did not approve; the " + kind + " stays withheld"
		c.ip.Record(ev, "")
	default:
		ev.Decision, ev.Note = "declined", fmt.Sprintf("the client answered action %s, which approves nothing; the %s stays withheld", strconv.Quote(clipText(action, 40)), kind)
		c.ip.Record(ev, "")
	}
}

// changeWords names a change for the audit log: "changed tool (description)".
func changeWords(kind, what string) string {
	if what == "" || what == "new" {
		return "new " + kind
	}
	return "changed " + kind + " (" + what + ")"
}

// consentMessage is the question put to the user. What the server chose
// (the name, the description) is quoted, escapes shown, and clipped.
func consentMessage(server, kind, name, what, description string) string {
	n := strconv.Quote(clipText(name, 128))
	d := "(none)"
	if description != "" {
		d = strconv.Quote(clipText(description, 300))
	}
	if what == "" || what == "new" {
		return fmt.Sprintf("mcpcell: the server %q added the %s %s since you trusted it. Description: %s. Approve it?", server, kind, n, d)
	}
	return fmt.Sprintf("mcpcell: the server %q changed the %s %s since you trusted it (%s). New description: %s. Approve the new definition?", server, kind, n, printable(clipText(what, 200)), d)
}

// printable is s with every character a terminal or a dialog would not
// show as itself escaped as strconv.Quote escapes it (\n, \u202e, \x00,
// \U000e0001): control and format characters (bidi overrides and
// isolates, zero-width ones), separators other than the ASCII space,
// and invalid UTF-8. Quotes and backslashes stay as they are, so that
// JSON text keeps its look; strconv.Quote is for a string that must be
// quoted whole.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !strconv.IsPrint(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// clipText keeps at most n bytes of s, cut at a character's start, with
// an ellipsis when cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// serverLabel names the server for the user: the profile's file name
// (".mcpcell.github.toml" is "github", a ".mcpcell.toml" its folder's), or
// for an embedded profile the command's.
func serverLabel(p *profiles.Profile, command []string) string {
	if strings.HasPrefix(p.Origin.File, "preset:") && len(command) > 0 {
		return filepath.Base(command[0])
	}
	name := p.Name
	if i := strings.LastIndexByte(name, '-'); i > 0 && len(name)-i == 9 {
		name = name[:i] // the digest of the profile's path
	}
	return strings.TrimPrefix(name, "mcpcell.")
}
