package profiles

import (
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// maxListed bounds the tool names one listing holds: a server may list
// fresh names on every tools/list and ask for another listing with
// notifications/tools/list_changed, as often as it likes.
const maxListed = 10000

// digest is how the policy keeps a name or a key a peer chose: what it
// holds is then bounded by their count, whatever their length.
type digest [sha256.Size]byte

// maxCursors bounds the cursors the current listing has given that
// mcpcell keeps.
const maxCursors = 16

// listing is what the client may call by name once the server has listed
// its tools: the names of the current listing, after filtering. A
// tools/list without a cursor starts a new listing, and a page asked for
// with a cursor adds to it only if the listing gave that cursor (the
// nextCursor of one of its pages): a page of an older listing, or of a
// cursor never given, would revive tools the current listing dropped.
// Listings are numbered in the order their first pages were asked for,
// so a first page that comes after a newer listing's is stale too. The
// cursor is checked when the page comes: a client that knows a cursor
// may ask for its page before the page that gives it has come. Until
// the new listing has its last page, the names of the last complete one
// stay callable too, so that a client that re-lists page by page loses
// no tool in between. So a listing holds at most maxListed names, and
// the listing at most twice that.
type listing struct {
	seen     bool // a tools/list result came: other names are unknown
	current  map[digest]struct{}
	complete bool                // current has had its last page
	prior    map[digest]struct{} // the last complete listing, while current is not
	// gen numbers the current listing; asked numbers the tools/list
	// requests without a cursor so far.
	gen, asked uint64
	// cursors are the nextCursors the current listing has given, the
	// newest last, at most maxCursors.
	cursors []digest
	// matched marks the [tools.args] keys (by index) that have matched
	// a listed name in the session.
	matched []bool
}

func hashName(name string) digest { return sha256.Sum256([]byte(name)) }

// begin starts the listing numbered gen.
func (l *listing) begin(gen uint64) {
	if l.complete {
		l.prior = l.current
	}
	l.seen, l.complete, l.gen = true, false, gen
	l.current = map[digest]struct{}{}
	l.cursors = l.cursors[:0]
}

// page reads a tools/list request's params: a request without a cursor
// asks for the first page of a new listing, numbered gen; one with a
// cursor for the page of that cursor, kept as a digest. Whether the
// cursor is one the current listing gave is asked when the page comes
// (given): a client may send the request for a page it knows the cursor
// of before the page before it has come.
func (l *listing) page(params []byte) (cursor *digest, gen uint64) {
	c, ok := jsontext.String(jsontext.Lookup(params, "cursor"))
	if !ok || c == "" {
		// Servers read an absent, null or empty cursor as none, and a
		// new listing is the safe reading of any other: it holds fewer
		// names.
		l.asked++
		return nil, l.asked
	}
	h := hashName(c)
	return &h, 0
}

// given reports whether the current listing gave cursor.
func (l *listing) given(cursor digest) bool {
	return l.gen != 0 && slices.Contains(l.cursors, cursor)
}

// gave records a nextCursor of the current listing.
func (l *listing) gave(cursor string) {
	if len(l.cursors) == maxCursors {
		l.cursors = slices.Delete(l.cursors, 0, 1)
	}
	l.cursors = append(l.cursors, hashName(cursor))
}

// listPage is page, under the policy's lock.
func (p *Policy) listPage(params []byte) (cursor *digest, gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listed.page(params)
}

// admit adds name to the current listing, or reports that it is full.
func (l *listing) admit(name string) bool {
	h := hashName(name)
	if _, ok := l.current[h]; ok {
		return true
	}
	if len(l.current) >= maxListed {
		return false
	}
	l.current[h] = struct{}{}
	return true
}

// end marks the current listing complete: the one before is forgotten.
func (l *listing) end() {
	l.complete, l.prior = true, nil
}

// has reports whether a call to name may go on: before any listing every
// name may, after it only the names of the current (or last complete)
// listing.
func (l *listing) has(name string) bool {
	if !l.seen {
		return true
	}
	h := hashName(name)
	_, ok := l.current[h]
	if !ok {
		_, ok = l.prior[h]
	}
	return ok
}

// size is the number of names the listing holds.
func (l *listing) size() int { return len(l.current) + len(l.prior) }

// listTools filters a tools/list page and adds what it passes to the
// listing: the page of a request without a cursor starts a new one. The
// names past maxListed in one listing are withheld from the client too,
// with a note, and so are unknown to a call; and so are all the tools of
// a stale page (see listing), whose nextCursor continues nothing.
func (p *Policy) listTools(c *jsonrpc.Call, m *jsonrpc.Message) jsonrpc.Verdict {
	var r reader
	next, _ := r.str(m.Result, "nextCursor")
	if r.bad != nil {
		return replySpelling(jsonrpc.Verdict{}, &r)
	}
	kept, names, total, kv := p.keepEntries(m, "tools", "name", &p.tools, plainName)
	if kv.Action != jsonrpc.Forward {
		return kv
	}
	// The listing ends where a client stops asking: JavaScript, Go and
	// Python clients stop at an absent, null or empty nextCursor.
	last := next == ""
	st, _ := c.State.(callState)
	// Pinning judges only a page that is not stale: a stale page
	// approves and establishes nothing (it is withheld whole anyway).
	var pinRule, pinNote string
	if p.pins != nil {
		p.mu.Lock()
		first := st.cursor == nil && st.list != 0 && st.list >= p.listed.gen
		live := first || (st.cursor != nil && p.listed.given(*st.cursor))
		p.mu.Unlock()
		if live {
			plain := make([]string, len(names))
			for i := range names {
				plain[i] = names[i].name
			}
			var shown []bool
			shown, pinRule, pinNote = p.pinEntries("tools", kept, plain, first, last)
			kept = showOnly(kept, shown)
			j := 0
			for i := range names {
				if shown[i] {
					names[j] = names[i]
					j++
				}
			}
			names = names[:j]
		}
	}
	p.mu.Lock()
	stale := false
	switch {
	case st.cursor == nil && st.list != 0 && st.list >= p.listed.gen:
		p.listed.begin(st.list)
	case st.cursor == nil || !p.listed.given(*st.cursor):
		stale = true
		p.listed.seen = true
		names = nil
	}
	admitted := make([][]byte, 0, len(kept))
	for i := range names {
		k := &names[i] // its key is computed once, by deny or here
		if !p.listed.admit(k.name) {
			continue
		}
		admitted = append(admitted, kept[i])
		// A key matched only because the name has none (k.all) is no
		// sign that the key is spelled right.
		for j := range p.args {
			if !p.listed.matched[j] && !k.get().all && p.args[j].re.match(k.get()) {
				p.listed.matched[j] = true
			}
		}
	}
	switch {
	case stale:
	case last:
		p.listed.end()
	default:
		p.listed.gave(next)
	}
	p.mu.Unlock()
	v := listVerdict(m, "tools", admitted, total)
	v.Rule += pinRule
	notes := []string{kv.Note, pinNote}
	switch over := len(kept) - len(admitted); {
	case stale && len(kept) == 0:
	case stale && st.cursor != nil:
		notes = append(notes, fmt.Sprintf("note: mcpcell withheld all %d tools of a tools/list page asked for with a cursor the current listing did not give (an older listing's, or one it never gave): a call to them is refused as unknown unless the current listing has them; list again without a cursor", len(kept)))
	case stale:
		notes = append(notes, fmt.Sprintf("note: mcpcell withheld all %d tools of a tools/list page that came after a newer listing had begun: a call to them is refused as unknown unless the current listing has them", len(kept)))
	case over > 0:
		notes = append(notes, fmt.Sprintf("note: the server's tools/list listing holds more than %d tools: mcpcell withheld %d of this page from the client, and a call to them is refused as unknown (a listing is capped, so that a server cannot grow mcpcell's memory without bound)", maxListed, over))
	}
	if last && !stale {
		if n := p.unmatchedArgs(); n != "" {
			notes = append(notes, n)
		}
	}
	v.Note = joinNotes(notes...)
	return v
}
