package trust

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/internal/utf8cut"
)

// The kinds of definitions a surface pins, by the member of the list
// result that holds them.
const (
	Tools     = "tools"
	Prompts   = "prompts"
	Templates = "resourceTemplates"
	// Instructions is the server's instructions (initialize and
	// server/discover results): text the client gives the model, as it
	// gives a tool's description. One entry, named "instructions".
	Instructions = "instructions"
)

// Bounds of a surface record: a hostile server may list 10,000 fresh
// names with large definitions on every listing.
const (
	// MaxEntries is the most entries a kind keeps approved, and the most
	// it keeps pending (profiles.maxListed).
	MaxEntries = 10000
	// maxText is the longest canonical text kept for one entry; a longer
	// one is pinned by its digest alone.
	maxText = 64 << 10
	// maxRecordText bounds the canonical text (and member digests) one
	// record keeps in all.
	maxRecordText = 8 << 20
	// maxName is how much of a name a record keeps for people; entries
	// are keyed by the digest of the whole name.
	maxName = 256
	// maxMembers bounds the member digests kept for one entry, which
	// say what of a definition changed.
	maxMembers = 64
)

// surfaceKind is the folder of surface records in the store.
const surfaceKind = "surfaces"

// SurfaceName names the surface record of a profile's origin (its top
// file's path, or "preset:NAME"), project and server command line.
func SurfaceName(origin, project string, argv []string) string {
	return recordID(append([]string{"surface", origin, project}, argv...)...)
}

// Pin is one definition as a record keeps it.
type Pin struct {
	Name   string `json:"name"` // clipped to maxName bytes
	Digest string `json:"digest"`
	// Text is the canonical definition, when it was kept (see maxText
	// and maxRecordText).
	Text string `json:"text,omitempty"`
	// Members are the digests of the definition's members, which say
	// what changed; absent when not kept.
	Members map[string]string `json:"members,omitempty"`
	Seen    time.Time         `json:"seen"`
}

// kept is what a pin counts against maxRecordText: what its text and
// members take in the record as written (escaped).
func (p *Pin) kept() int {
	n := writtenLen(p.Text)
	for k, v := range p.Members {
		n += writtenLen(k) + writtenLen(v)
	}
	return n
}

// writtenLen is at least the length of s as encodeSurface writes it in a
// JSON string: '"' and '\' take two bytes, a control character, U+2028,
// U+2029 and each byte of invalid UTF-8 (written as \ufffd) six.
func writtenLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				n += 2
			case c < 0x20 || c == 0x7f:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// clipWritten cuts s on a rune boundary so that it takes at most n bytes
// as written (see writtenLen).
func clipWritten(s string, n int) string {
	w := 0
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		if w += writtenLen(s[i : i+size]); w > n {
			return s[:i]
		}
		i += size
	}
	return s
}

// PinSet is what a record keeps of one kind.
type PinSet struct {
	// Established says a complete listing has been seen: from then on a
	// new or different entry is pending, not approved.
	Established bool            `json:"established"`
	Approved    map[string]*Pin `json:"approved"` // by the digest of the name
	Pending     map[string]*Pin `json:"pending"`
}

// SurfaceRecord is the surface a user approved for one profile, project
// and command.
type SurfaceRecord struct {
	Origin  string             `json:"origin"`
	Project string             `json:"project"`
	Command []string           `json:"command"`
	Kinds   map[string]*PinSet `json:"kinds"`
}

func (r *SurfaceRecord) set(kind string) *PinSet {
	if r.Kinds == nil {
		r.Kinds = map[string]*PinSet{}
	}
	s := r.Kinds[kind]
	if s == nil {
		s = &PinSet{}
		r.Kinds[kind] = s
	}
	if s.Approved == nil {
		s.Approved = map[string]*Pin{}
	}
	if s.Pending == nil {
		s.Pending = map[string]*Pin{}
	}
	return s
}

// kept is what the record counts against maxRecordText.
func (r *SurfaceRecord) kept() int {
	n := 0
	for _, s := range r.Kinds {
		for _, m := range []map[string]*Pin{s.Approved, s.Pending} {
			for _, p := range m {
				n += p.kept()
			}
		}
	}
	return n
}

func decodeSurface(b []byte) (*SurfaceRecord, error) {
	r := &SurfaceRecord{}
	if b == nil {
		return r, nil
	}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("reading the trust store: a surface record is damaged: %w", err)
	}
	return r, nil
}

// ReadSurface returns the surface record of name, empty when there is
// none.
func (s *Store) ReadSurface(name string) (*SurfaceRecord, error) {
	b, err := s.read(surfaceKind, name)
	if err != nil {
		return nil, err
	}
	return decodeSurface(b)
}

// UpdateSurface changes the record of name with fn under the store's
// lock; fn returning false leaves it as it was.
func (s *Store) UpdateSurface(name string, fn func(*SurfaceRecord) bool) error {
	return s.update(surfaceKind, name, func(old []byte) ([]byte, error) {
		r, err := decodeSurface(old)
		if err != nil {
			return nil, err
		}
		if !fn(r) {
			return nil, nil
		}
		return encodeSurface(r)
	})
}

// encodeSurface writes a record as JSON without HTML escapes, so that
// what maxRecordText counts (writtenLen) is what the file takes.
func encodeSurface(r *SurfaceRecord) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Approve moves the pending entries of changes to approved, each only
// if it is still pending as shown (a newer version that came meanwhile
// stays pending), at most MaxEntries a kind. It returns how many it moved
// and how many it left pending.
func (r *SurfaceRecord) Approve(changes []Change) (moved, left int) {
	for _, c := range changes {
		s := r.set(c.Kind)
		p := s.Pending[c.Key]
		if p == nil || p.Digest != c.New.Digest {
			left++
			continue
		}
		if _, ok := s.Approved[c.Key]; !ok && len(s.Approved) >= MaxEntries {
			left++
			continue
		}
		s.Approved[c.Key] = p
		delete(s.Pending, c.Key)
		moved++
	}
	return moved, left
}

// sortedPins are the keys of m in the order of their names.
func sortedPins(m map[string]*Pin) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := m[keys[i]], m[keys[j]]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return keys[i] < keys[j]
	})
	return keys
}

// Change is one pending entry, for a review.
type Change struct {
	Kind string
	Key  string // the digest of the name
	New  *Pin   // the pending definition
	Old  *Pin   // the approved one, nil for a new name
}

// Changes lists the record's pending entries by kind and name.
func (r *SurfaceRecord) Changes() []Change {
	var out []Change
	for _, kind := range slices.Sorted(maps.Keys(r.Kinds)) {
		s := r.Kinds[kind]
		for _, k := range sortedPins(s.Pending) {
			out = append(out, Change{Kind: kind, Key: k, New: s.Pending[k], Old: s.Approved[k]}) // nil when new
		}
	}
	return out
}

// Surface is the pinned surface of one session: the record of its
// profile, project and command, which a Policy asks (it implements
// profiles.Pins). It re-reads the record when a listing starts, so that
// an approval made meanwhile counts, and writes it only when it changes.
type Surface struct {
	store *Store
	name  string
	// review is the command that reviews and approves a change.
	review string
	now    func() time.Time

	mu  sync.Mutex
	rec *SurfaceRecord
	err error // the record could not be read: nothing counts as approved
	// window holds the kinds whose first listing this session began: only
	// its pages approve entries on first sight.
	window map[string]bool
}

// OpenSurface reads the surface record of origin, project and argv; the
// record shows the command as shown (credentials masked: the store is no
// new place for one a client config passes on a command line). review is
// the command a note names for approving a change.
func (s *Store) OpenSurface(origin, project string, argv, shown []string, review string) (*Surface, error) {
	name := SurfaceName(origin, project, argv)
	rec, err := s.ReadSurface(name)
	if err != nil {
		return nil, err
	}
	rec.Origin, rec.Project, rec.Command = origin, project, slices.Clone(shown)
	return &Surface{store: s, name: name, review: review, now: time.Now, rec: rec}, nil
}

// Review is the command that reviews and approves a change.
func (u *Surface) Review() string { return u.review }

// Begin starts a listing of kind: the record is read again. Trust on
// first use lasts one listing: a kind that has entries but no complete
// listing (its first listing never had its last page, or is still going
// on in another session) is established now, and only a listing that
// begins on a kind without entries approves what it sees first.
func (u *Surface) Begin(kind string) error {
	rec, err := u.store.ReadSurface(u.name)
	if err == nil && unsettled(rec.Kinds[kind]) {
		err = u.store.UpdateSurface(u.name, func(r *SurfaceRecord) bool {
			rec = r
			if !unsettled(r.Kinds[kind]) {
				return false
			}
			r.Kinds[kind].Established = true
			return true
		})
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.window, kind)
	if err != nil {
		u.err = err
		return err
	}
	rec.Origin, rec.Project, rec.Command = u.rec.Origin, u.rec.Project, u.rec.Command
	u.rec, u.err = rec, nil
	if s := rec.Kinds[kind]; s == nil || !s.Established && len(s.Approved) == 0 && len(s.Pending) == 0 {
		if u.window == nil {
			u.window = map[string]bool{}
		}
		u.window[kind] = true
	}
	return nil
}

// unsettled reports whether s has entries but is not established.
func unsettled(s *PinSet) bool {
	return s != nil && !s.Established && len(s.Approved)+len(s.Pending) > 0
}

// Approve approves the pending definition canon of name, as the user
// was shown it: a newer version that came meanwhile stays pending.
func (u *Surface) Approve(kind, name string, canon []byte) error {
	key, digest := Sum([]byte(name)), Sum(canon)
	var moved int
	err := u.store.UpdateSurface(u.name, func(r *SurfaceRecord) bool {
		p := r.set(kind).Pending[key]
		if p == nil || p.Digest != digest {
			return false
		}
		moved, _ = r.Approve([]Change{{Kind: kind, Key: key, New: p}})
		return moved > 0
	})
	if err != nil {
		return err
	}
	if moved == 0 {
		return fmt.Errorf("the %s %q is no longer pending in the version shown", kind, utf8cut.Cut(name, maxName))
	}
	return nil
}

// Approved reports whether a call to name may go on when no listing of
// kind has been seen in the session: while the record knows nothing of
// the kind every name may; after that only an approved name, and not one
// whose changed definition is pending.
func (u *Surface) Approved(kind, name string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return false
	}
	s := u.rec.Kinds[kind]
	if s == nil || !s.Established && len(s.Approved)+len(s.Pending) == 0 {
		return true
	}
	key := Sum([]byte(name))
	if _, pending := s.Pending[key]; pending {
		return false
	}
	_, ok := s.Approved[key]
	return ok
}

// Judge pins the entries of one page of a listing of kind, each a name
// and its canonical definition (see profiles.Canonical): it returns, for
// each, "" when it is approved, or what makes it pending ("new", or the
// members that changed, as "description, inputSchema"). Only the pages of
// the kind's first listing (one this session began with Begin on a kind
// without entries) approve an entry as it is first seen, and only while
// the record on disk does not say the kind is established; last says the
// page ends a listing, which establishes it. A record that cannot be read
// or written approves nothing new: err says why.
func (u *Surface) Judge(kind string, names []string, canon [][]byte, last bool) ([]string, error) {
	out := make([]string, len(names))
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		for i := range out {
			out[i] = "the trust store cannot be read"
		}
		return out, u.err
	}
	now := u.now().UTC()
	type add struct {
		i        int // the entry's index in names
		key      string
		pin      *Pin
		approved bool
	}
	var adds []add
	s := u.rec.Kinds[kind]
	established := s != nil && s.Established
	open := u.window[kind] && !established
	firstSeen := map[string]string{} // this page's approvals by first sight
	for i, name := range names {
		key, digest := Sum([]byte(name)), Sum(canon[i])
		var old *Pin
		if s != nil {
			old = s.Approved[key]
		}
		switch {
		case old != nil && old.Digest == digest:
			if s.Pending[key] != nil {
				// Changed back: the pending version is no longer listed.
				adds = append(adds, add{i: i, key: key})
			}
			continue
		case old == nil && open && (firstSeen[key] == "" || firstSeen[key] == digest):
			if firstSeen[key] == "" {
				firstSeen[key] = digest
				adds = append(adds, add{i, key, newPin(name, digest, canon[i], now), true})
			}
			continue
		case old == nil && firstSeen[key] != "":
			out[i] = "listed twice, differently"
		case old == nil:
			out[i] = "new"
		default:
			out[i] = changedMembers(old, canon[i])
		}
		if s != nil {
			if p := s.Pending[key]; p != nil && p.Digest == digest {
				continue // already recorded
			}
		}
		adds = append(adds, add{i, key, newPin(name, digest, canon[i], now), false})
	}
	establish := last && !established
	if last {
		delete(u.window, kind)
	}
	if len(adds) == 0 && !establish {
		return out, nil
	}
	var full int
	apply := func(r *SurfaceRecord) bool {
		full = 0
		set := r.set(kind)
		room := maxRecordText - r.kept()
		changed := false
		for _, a := range adds {
			if a.pin == nil {
				if set.Pending[a.key] != nil {
					delete(set.Pending, a.key)
					changed = true
				}
				continue
			}
			if a.approved {
				// Another session may have established the kind, or
				// approved another definition of the name, since this
				// record was read: first sight is over.
				if prev := set.Approved[a.key]; prev != nil && prev.Digest == a.pin.Digest {
					continue
				} else if prev != nil {
					a.approved, out[a.i] = false, changedMembers(prev, canon[a.i])
				} else if set.Established {
					a.approved, out[a.i] = false, "new"
				}
			}
			dst := set.Pending
			if a.approved {
				dst = set.Approved
			}
			if prev := dst[a.key]; prev != nil {
				if prev.Digest == a.pin.Digest {
					continue
				}
				room += prev.kept()
			} else if len(dst) >= MaxEntries {
				full++
				continue
			}
			p := *a.pin
			if p.kept() > room {
				p.Text, p.Members = "", nil
			}
			room -= p.kept()
			dst[a.key] = &p
			if a.approved {
				delete(set.Pending, a.key)
			}
			changed = true
		}
		if establish && !set.Established {
			set.Established, changed = true, true
		}
		return changed
	}
	var applied *SurfaceRecord
	err := u.store.UpdateSurface(u.name, func(r *SurfaceRecord) bool {
		r.Origin, r.Project, r.Command = u.rec.Origin, u.rec.Project, u.rec.Command
		ok := apply(r)
		applied = r
		return ok
	})
	if err != nil {
		// Fail closed: what this page would have approved stays hidden.
		for i, name := range names {
			if out[i] == "" && !u.approvedLocked(kind, name, canon[i]) {
				out[i] = "not recorded in the trust store"
			}
		}
		return out, err
	}
	if applied != nil {
		u.rec = applied
	}
	if full > 0 {
		// An entry that found no room is not approved: hidden.
		set := u.rec.set(kind)
		for i, name := range names {
			if out[i] == "" {
				if p := set.Approved[Sum([]byte(name))]; p == nil || p.Digest != Sum(canon[i]) {
					out[i] = fmt.Sprintf("over the trust store's %d entries", MaxEntries)
				}
			}
		}
	}
	return out, nil
}

// approvedLocked reports whether the record in memory approves this very
// definition.
func (u *Surface) approvedLocked(kind, name string, canon []byte) bool {
	s := u.rec.Kinds[kind]
	if s == nil {
		return false
	}
	p := s.Approved[Sum([]byte(name))]
	return p != nil && p.Digest == Sum(canon)
}

func newPin(name, digest string, canon []byte, now time.Time) *Pin {
	p := &Pin{Name: clipWritten(name, maxName), Digest: digest, Seen: now}
	if len(canon) <= maxText {
		p.Text = string(canon)
	}
	if m, err := memberDigests(canon); err == nil && len(m) <= maxMembers {
		p.Members = m
	}
	return p
}

// memberDigests are the digests of a canonical object's members.
func memberDigests(canon []byte) (map[string]string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(canon, &obj); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		out[clipWritten(k, maxName)] = short(Sum(v))
	}
	return out, nil
}

// changedMembers says what of a definition changed against old: the
// members that differ, or "definition" when old's members were not kept.
func changedMembers(old *Pin, canon []byte) string {
	now, err := memberDigests(canon)
	if old.Members == nil || err != nil {
		return "definition"
	}
	var names []string
	for k, v := range now {
		if old.Members[k] != v {
			names = append(names, k)
		}
	}
	for k := range old.Members {
		if _, ok := now[k]; !ok {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return "definition"
	}
	sort.Strings(names)
	for i, k := range names {
		if !plainMember(k) {
			// The server chose the name: quoted, it cannot end a note's
			// line, pose as two members or turn the text around.
			names[i] = strconv.Quote(k)
		}
	}
	return strings.Join(names, ", ")
}

// plainMember reports whether a member name is shown as it is: ASCII
// letters, digits, '_', '-', '.' and '$', at most 64 of them.
func plainMember(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, c := range []byte(k) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '$') {
			return false
		}
	}
	return true
}
