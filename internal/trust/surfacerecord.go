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
	"time"
	"unicode/utf8"
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
