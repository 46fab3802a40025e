package profiles

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/internal/utf8cut"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// Pins is the tool surface the user approved, which the Policy asks on
// every listing of tools, prompts and resource templates (kinds "tools",
// "prompts", "resourceTemplates") and on a call before the session's
// first listing. The policy does no file I/O: cmd sets Pins (the trust
// store's Surface) with SetPins, or none when the profile says
// [tools] pin = false.
type Pins interface {
	// Begin starts a listing of kind: what the user approved is read
	// again, so that an approval made meanwhile counts.
	Begin(kind string) error
	// Judge pins one page of a listing: for each entry, by name and
	// canonical definition (Canonical), "" when it is approved, else
	// what makes it pending ("new", or the members that changed). last
	// says the page ends the listing. An error is for a note: the
	// entries it kept from being approved are pending all the same.
	Judge(kind string, names []string, canon [][]byte, last bool) ([]string, error)
	// Approved reports whether a call to name may go on when the session
	// has seen no listing of kind yet.
	Approved(kind, name string) bool
	// Review is the command that reviews and approves a change, for
	// notes.
	Review() string
	// Approve approves name's pending definition canon, as the user was
	// shown it (a newer version that came meanwhile stays pending).
	Approve(kind, name string, canon []byte) error
}

// SetPins makes the policy hide and refuse what pins does not approve.
// Call it before the first frame.
func (p *Policy) SetPins(pins Pins) { p.pins = pins }

// Withheld is told of each entry a listing withholds for the first time
// in a session, so that the user may be asked to approve it: its kind
// ("tool", "prompt" or "resource template"), name, the digest of its
// canonical definition, what changed of that definition ("new", or the
// members, as Pins.Judge says), the canonical definition itself (see
// Canonical), and approve, which approves exactly that definition. It is
// called outside the policy's lock, on the server's pump, and must not
// block on a peer.
type Withheld func(kind, name, digest, what string, canon []byte, approve func() error)

// SetWithheld sets the function told of withheld entries. Call it
// before the first frame.
func (p *Policy) SetWithheld(f Withheld) { p.withheld = f }

// maxNoted bounds the (name, definition) pairs a session remembers having
// noted; past it, it forgets them and may note one again.
const maxNoted = 4 * maxListed

// pinKind is what the policy keeps of one kind in a session: digests.
type pinKind struct {
	listed bool // a listing of the kind has been seen in the session
	// pending holds, by the digest of the name, what changed of each
	// entry the current listing withheld; prior those of the listing
	// before, until the current one has its last page (a call in between
	// is refused for either).
	pending, prior map[digest]string
	// overflow says the current (or prior) listing withheld more than
	// maxListed: every call of the kind is refused until one fits again.
	overflow, priorOverflow bool
}

// begin starts a new listing.
func (k *pinKind) begin() {
	k.prior, k.priorOverflow = k.pending, k.overflow
	k.pending, k.overflow = map[digest]string{}, false
}

// end marks the current listing complete.
func (k *pinKind) end() { k.prior, k.priorOverflow = nil, false }

// why says what changed of name, if a listing withheld it.
func (k *pinKind) why(h digest) (string, bool) {
	if w, ok := k.pending[h]; ok {
		return w, true
	}
	w, ok := k.prior[h]
	return w, ok
}

// pinState is the pinning state of a session.
type pinState struct {
	kinds map[string]*pinKind
	noted map[digest]struct{}
}

func (s *pinState) kind(k string) *pinKind {
	if s.kinds == nil {
		s.kinds = map[string]*pinKind{}
	}
	pk := s.kinds[k]
	if pk == nil {
		pk = &pinKind{pending: map[digest]string{}}
		s.kinds[k] = pk
	}
	return pk
}

// pinNouns are the words notes use for each kind, one and many.
var pinNouns = map[string][2]string{
	"tools":             {"tool", "tools"},
	"prompts":           {"prompt", "prompts"},
	"resourceTemplates": {"resource template", "resource templates"},
	"instructions":      {"server instructions", "server instructions"},
}

// pinInstructions pins the server's instructions in an initialize or
// server/discover result: the client gives them to the model as it gives
// a tool's description, so a change is a rug pull too. Each result is a
// listing of one entry, or of none when it has no instructions; changed
// or new instructions are dropped from the result (the client then has
// none), with the note of a withheld entry, until mcpcell trust --tools
// approves them.
func (p *Policy) pinInstructions(m *jsonrpc.Message) jsonrpc.Verdict {
	v := jsonrpc.Verdict{Rule: "reply"}
	if p.pins == nil {
		return v
	}
	var r reader
	raw := r.get(m.Result, "instructions")
	if r.bad != nil {
		return replySpelling(v, &r)
	}
	if raw == nil {
		// No instructions is a complete listing with no entry, as an
		// empty tool listing is: it establishes the kind, so that
		// instructions a later session adds are new, not first seen.
		_, _, v.Note = p.pinEntries("instructions", nil, nil, true, true)
		return v
	}
	entry := []byte(`{"instructions":` + string(raw) + `}`)
	shown, rule, note := p.pinEntries("instructions", [][]byte{entry}, []string{"instructions"}, true, true)
	v.Note = note
	if shown[0] {
		return v
	}
	out, err := jsontext.DropMembers(m.Result, "instructions")
	if err != nil {
		return refuse(jsonrpc.CodeInternalError, "instructions", "mcpcell: %v", err)
	}
	v.Frame, v.Rule = m.WithResult(out), "instructions: withheld"+rule
	return v
}

// pinEntries judges one listing page's entries (kept, after the rules)
// against the pinned surface and returns the entries to show, with a
// flag for each kept entry saying whether it is shown, the rule's suffix
// (what was withheld, for the audit record) and the note (what this
// session had not yet said). first says the page starts a listing; last
// that it ends one.
func (p *Policy) pinEntries(kind string, kept [][]byte, names []string, first, last bool) (shown []bool, rule, note string) {
	shown = make([]bool, len(kept))
	for i := range shown {
		shown[i] = true
	}
	if p.pins == nil {
		return shown, "", ""
	}
	var errs []string
	if first {
		if err := p.pins.Begin(kind); err != nil {
			errs = append(errs, err.Error())
		}
	}
	canon := make([][]byte, len(kept))
	why := make([]string, len(kept))
	var judged []int
	for i, e := range kept {
		c, err := Canonical(e)
		if err != nil {
			why[i] = "its definition cannot be read: " + err.Error()
			continue
		}
		canon[i] = c
		judged = append(judged, i)
	}
	jn, jc := make([]string, len(judged)), make([][]byte, len(judged))
	for k, i := range judged {
		jn[k], jc[k] = names[i], canon[i]
	}
	verdicts, err := p.pins.Judge(kind, jn, jc, last)
	if err != nil {
		errs = append(errs, err.Error())
	}
	for k, i := range judged {
		if k < len(verdicts) {
			why[i] = verdicts[k]
		} else {
			why[i] = "not judged"
		}
	}
	// A name listed with a pending definition is pending everywhere on
	// the page, even where a copy matches the approved one.
	pendingName := map[string]string{}
	for i, w := range why {
		if w != "" && pendingName[names[i]] == "" {
			pendingName[names[i]] = w
		}
	}
	type hidden struct {
		name, why string
		own       string // what changed of this copy of the entry
		canon     []byte
	}
	var hid, fresh []hidden
	p.mu.Lock()
	pk := p.pinned.kind(kind)
	pk.listed = true
	if first {
		pk.begin()
	}
	for i := range kept {
		h := hashName(names[i])
		w := pendingName[names[i]]
		if w == "" {
			delete(pk.pending, h)
			delete(pk.prior, h)
			continue
		}
		shown[i] = false
		if _, ok := pk.pending[h]; ok || len(pk.pending) < maxListed {
			pk.pending[h] = w
		} else {
			pk.overflow = true
		}
		hid = append(hid, hidden{names[i], w, why[i], canon[i]})
		nd := sha256.Sum256([]byte(kind + "\x00" + names[i] + "\x00" + string(canon[i])))
		if _, ok := p.pinned.noted[nd]; ok {
			continue
		}
		if p.pinned.noted == nil || len(p.pinned.noted) >= maxNoted {
			p.pinned.noted = map[digest]struct{}{}
		}
		p.pinned.noted[nd] = struct{}{}
		fresh = append(fresh, hidden{names[i], w, why[i], canon[i]})
	}
	if last {
		pk.end()
	}
	p.mu.Unlock()
	nouns := pinNouns[kind]
	if p.withheld != nil {
		for _, h := range fresh {
			// A definition that cannot be read is not for a question, nor
			// is an approved copy of a name listed twice; the question
			// names what changed of the very definition it approves.
			if h.canon == nil || h.own == "" {
				continue
			}
			sum := sha256.Sum256(h.canon)
			p.withheld(nouns[0], h.name, hex.EncodeToString(sum[:]), h.own, h.canon, func() error { return p.pins.Approve(kind, h.name, h.canon) })
		}
	}
	if len(hid) > 0 {
		names := make([]string, 0, 3)
		for _, h := range hid[:min(3, len(hid))] {
			names = append(names, clipName(h.name))
		}
		more := ""
		if len(hid) > 3 {
			more = fmt.Sprintf(" and %d more", len(hid)-3)
		}
		rule = fmt.Sprintf("; %d changed since trusted, withheld: %s%s", len(hid), strings.Join(names, ", "), more)
	}
	if len(fresh) > 0 {
		const named = 5
		parts := make([]string, 0, named)
		for _, h := range fresh[:min(named, len(fresh))] {
			parts = append(parts, fmt.Sprintf("%s (%s)", clipName(h.name), utf8cut.Marked(h.why, 200)))
		}
		if len(fresh) > named {
			parts = append(parts, fmt.Sprintf("and %d more", len(fresh)-named))
		}
		noun := nouns[1]
		if len(fresh) == 1 {
			noun = nouns[0]
		}
		note = fmt.Sprintf("note: mcpcell hid %d %s the server changed since you trusted them: %s; review and approve with %s", len(fresh), noun, strings.Join(parts, ", "), p.pins.Review())
	}
	if len(errs) > 0 {
		note = joinNotes(note, "note: mcpcell could not use the trust store, so it showed no tool surface it could not check: "+strings.Join(errs, "; "))
	}
	return shown, rule, note
}

// pinnedCall reports whether a call to name of kind may go on as far as
// pinning goes, with the rule that refuses it.
func (p *Policy) pinnedCall(kind, name string) (ok bool, rule string) {
	if p.pins == nil {
		return true, ""
	}
	p.mu.Lock()
	pk := p.pinned.kind(kind)
	why, pending := pk.why(hashName(name))
	over, listed := pk.overflow || pk.priorOverflow, pk.listed
	p.mu.Unlock()
	switch {
	case pending:
		return false, fmt.Sprintf("%s: changed since trusted (%s)", kind, utf8cut.Marked(why, 200))
	case over:
		return false, fmt.Sprintf("%s: changed since trusted (the server changed more than %d)", kind, maxListed)
	case !p.pins.Approved(kind, name):
		if listed {
			return false, kind + ": changed since trusted (not approved)"
		}
		return false, kind + ": changed since trusted (not approved; no listing yet this session)"
	}
	return true, ""
}

// pinnedRule is pinnedCall for a name the rules allowed with rule.
func (p *Policy) pinnedRule(kind, name, rule string) (bool, string) {
	if ok, why := p.pinnedCall(kind, name); !ok {
		return false, why
	}
	return true, rule
}

// filterPinned is filterList for a kind whose definitions are pinned
// (prompts, resource templates): what pinning withholds is withheld too.
func (p *Policy) filterPinned(c *jsonrpc.Call, m *jsonrpc.Message, field, key string, rs *ruleSet, kind int) jsonrpc.Verdict {
	kept, keys, total, v := p.keepEntries(m, field, key, rs, kind)
	if v.Action != jsonrpc.Forward {
		return v
	}
	var r reader
	next, _ := r.str(m.Result, "nextCursor")
	if r.bad != nil {
		return replySpelling(jsonrpc.Verdict{}, &r)
	}
	st, _ := c.State.(callState)
	names := make([]string, len(keys))
	for i := range keys {
		names[i] = keys[i].name
	}
	shown, rule, note := p.pinEntries(field, kept, names, st.fresh, next == "")
	out := listVerdict(m, field, showOnly(kept, shown), total)
	if out.Action == jsonrpc.Forward {
		out.Rule += rule
		out.Note = joinNotes(v.Note, note)
	}
	return out
}

// showOnly is the entries of kept that shown marks.
func showOnly(kept [][]byte, shown []bool) [][]byte {
	out := kept[:0:0]
	for i, e := range kept {
		if shown[i] {
			out = append(out, e)
		}
	}
	return out
}
