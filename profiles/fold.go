package profiles

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// A server written with Go's encoding/json (mcp-go, among others) reads
// member names with strings.EqualFold, and some servers look tools up
// case-insensitively: to them "Path" is "path" and "HIDDEN" is "hidden".
// mcpcell reads each member name the policy decides on in one spelling,
// and a deny glob denies a name when it matches a name with the same key
// (see keyGlob below).

// spelling is a member whose name differs only in case from the name the
// policy reads there.
type spelling struct{ got, want string }

func (s *spelling) Error() string {
	return fmt.Sprintf("member name %q differs only in case from %q, which mcpcell reads (Go's encoding/json reads them as one)", s.got, s.want)
}

// reader reads the members the policy decides on. A member whose name
// folds to the one read (strings.EqualFold, as Go's encoding/json
// matches) but is not it is refused like a duplicate: the policy and the
// server would read the frame two ways. get then returns nil, and the
// first such member is kept in bad for the caller to refuse.
type reader struct{ bad *spelling }

func (r *reader) get(obj []byte, name string) []byte {
	if obj == nil {
		return nil
	}
	v, spelled := jsontext.LookupFold(obj, name)
	if spelled != "" {
		if r.bad == nil {
			r.bad = &spelling{got: spelled, want: name}
		}
		return nil
	}
	return v
}

// members reads several members of obj in one pass: each value goes
// where want names it.
func (r *reader) members(obj []byte, want map[string]*[]byte) {
	jsontext.EachMember(obj, func(n, v []byte) bool {
		if dst, ok := want[string(n)]; ok {
			*dst = v
			return true
		}
		for name := range want {
			if strings.EqualFold(string(n), name) {
				if r.bad == nil {
					r.bad = &spelling{got: string(n), want: name}
				}
				return false
			}
		}
		return true
	})
}

func (r *reader) str(obj []byte, name string) (string, bool) {
	return jsontext.String(r.get(obj, name))
}

// A server may look a name up after mapping it: Go's strings.EqualFold,
// ToUpper and ToLower (simple case mappings, rune by rune); JavaScript's
// toUpperCase and toLowerCase, Python's upper, lower and casefold, Java's
// and Rust's (full case mappings: ß is SS, ﬁ is FI, ı upper-cases to I,
// İ lower-cases to i̇), in any locale (Turkish, Lithuanian); Unicode
// normalisation (NFC, NFKC: ﬁ is fi, ｈ is h, K is K); a comparison that
// ignores accents or invisible format characters; or any chain of these.
// A deny glob or a [tools.args] key must hold for every name such a
// server reads as one it names.
//
// mcpcell maps every name to a key that all those mappings keep:
// key(f(s)) = key(s) for each f above. A name is denied when its key is
// the key of some name the glob matches. The key of a character is what
// compatibility decomposition, full upper-casing, lower-casing and case
// folding make of it, repeated until nothing changes, without the marks
// (accents, the combining dot of i̇) and the invisible format characters
// (soft hyphen, zero-width joiners, variation selectors) that a server
// may drop or reorder. So a deny holds for more names than any one
// server reads as the denied one: `deny = ["hidden"]` denies "HİDDEN",
// "hıdden", "hïdden" and "ｈｉｄｄｅｎ" alike.
//
// A character that the Unicode tables mcpcell was built with (Unicode
// 15.0) do not assign may map to anything in a newer Unicode: a name
// holding one is matched by every deny glob and [tools.args] key.

// keyTable holds the key of every assigned character whose key is not
// itself, built once; sorted by character for the class images.
type keyTable struct {
	key   map[rune]string
	runes []rune // the keys of key, sorted
	// maxLen is the longest key of one character, in characters.
	maxLen int
}

var keys = sync.OnceValue(buildKeys)

// assigned reports whether Unicode 15.0 assigns r (any category but Cn).
func assigned(r rune) bool { return !unicode.Is(unicode.Cn, r) }

// keyless are the characters a key drops: marks and default-ignorable
// format characters (after case mapping, so that the ypogegrammeni,
// which upper-cases to Ι, keeps its letter).
func keyless(r rune) bool {
	if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
		return true
	}
	return norm.NFD.PropertiesString(string(r)).CCC() != 0
}

// mapper computes keys; casers keep state, so it is not shared.
type mapper struct{ upper, lower, fold cases.Caser }

func newMapper() *mapper {
	return &mapper{upper: cases.Upper(language.Und), lower: cases.Lower(language.Und), fold: cases.Fold()}
}

// key computes the key of s from scratch.
func (m *mapper) key(s string) string {
	for range 16 {
		t := norm.NFKD.String(s)
		t = m.fold.String(m.lower.String(m.upper.String(t)))
		t = norm.NFKD.String(t)
		t = strings.Map(func(r rune) rune {
			if keyless(r) {
				return -1
			}
			return r
		}, t)
		if t == s {
			break
		}
		s = t
	}
	return s
}

// mayMap reports whether some mapping may change r: the characters
// buildKeys computes keys for (the test checks it misses none).
func mayMap(r rune) bool {
	if r < utf8.RuneSelf {
		return 'A' <= r && r <= 'Z'
	}
	if unicode.SimpleFold(r) != r || unicode.ToUpper(r) != r || unicode.ToLower(r) != r || unicode.ToTitle(r) != r || keyless(r) {
		return true
	}
	return !norm.NFKD.IsNormalString(string(r))
}

func buildKeys() *keyTable {
	m := newMapper()
	t := &keyTable{key: map[rune]string{}}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !mayMap(r) || !assigned(r) {
			continue
		}
		if k := m.key(string(r)); k != string(r) {
			t.key[r] = k
			t.runes = append(t.runes, r)
			t.maxLen = max(t.maxLen, utf8.RuneCountInString(k))
		}
	}
	return t
}

// nameKey is the key of name, and false when name holds a character
// Unicode 15.0 does not assign.
func nameKey(name string) ([]rune, bool) {
	t := keys()
	out := make([]rune, 0, len(name))
	for _, r := range name {
		switch {
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			out = append(out, r)
		default:
			if k, ok := t.key[r]; ok {
				out = append(out, []rune(k)...)
			} else if !assigned(r) {
				return nil, false
			} else {
				out = append(out, r)
			}
		}
	}
	return out, true
}

// maxKeyed bounds the names mcpcell computes a key for, in bytes. A
// character's key is up to 18 characters (U+FDFA), and every listing,
// call and completion asks for keys: a server listing megabytes of such
// names would cost seconds of CPU each time. MCP's tool names are 1 to
// 128 characters. A longer name is matched by every deny glob and every
// [tools.args] key, as one holding an unassigned character is: deny wins,
// and a constraint holds, whatever key the name would have.
const maxKeyed = 1024

// key is a name's key, computed once and asked of every glob.
type key struct {
	runes []rune
	// all says every deny glob and [tools.args] key matches the name: it
	// holds a character Unicode 15.0 does not assign, or is longer than
	// maxKeyed (long).
	all, long bool
}

// keyOf is the key of name.
func keyOf(name string) key {
	if len(name) > maxKeyed {
		return key{all: true, long: true}
	}
	k, ok := nameKey(name)
	return key{runes: k, all: !ok}
}

// lazyKey is the key of name, computed when a glob first asks for it.
type lazyKey struct {
	name string
	k    key
	done bool
}

func (l *lazyKey) get() key {
	if !l.done {
		l.k, l.done = keyOf(l.name), true
	}
	return l.k
}

// keyGlob matches a name when its key is the key of some name a glob
// matches: the glob's image under the key mapping, as a sequence of
// tokens.
type keyGlob struct {
	toks []keyToken
	// jump is the most characters of a key one token takes.
	jump int
}

// keyToken is a star (any run of key characters), or the keys of one
// character of a set.
type keyToken struct {
	star bool
	set  *keySet
}

// keySet is the set of the keys of the characters of a glob token.
type keySet struct {
	ranges []rune            // a key character in these ranges is its own key…
	own    func(r rune) bool // …unless the table maps it
	single map[rune]bool     // one-character keys of mapped characters
	multi  keyTrie           // the longer keys
	empty  bool              // some character's key is empty
	long   int               // the longest key, in characters
}

// keyTrie holds keys by their characters: a step along a name's key
// finds every key it starts with in as many steps as the longest key
// has characters, however many keys start alike (the ? of a glob holds
// 588 keys that start with U+110E, of the Hangul syllables).
type keyTrie struct {
	next map[rune]*keyTrie
	end  bool // a key ends here
}

func (t *keyTrie) insert(k []rune) {
	for _, r := range k {
		if t.next == nil {
			t.next = map[rune]*keyTrie{}
		}
		c := t.next[r]
		if c == nil {
			c = &keyTrie{}
			t.next[r] = c
		}
		t = c
	}
	t.end = true
}

// starts reports whether the key of some character of s starts with r.
func (s *keySet) starts(r rune) bool {
	return s.multi.next[r] != nil || s.hasSingle(r)
}

func (s *keySet) hasSingle(r rune) bool {
	if s.single[r] {
		return true
	}
	for i := 0; i+1 < len(s.ranges); i += 2 {
		if s.ranges[i] <= r && r <= s.ranges[i+1] {
			return s.own(r)
		}
	}
	return false
}

// imageOf is the keySet of the characters in ranges (lo-hi pairs).
func imageOf(ranges []rune) *keySet {
	t := keys()
	s := &keySet{ranges: ranges, single: map[rune]bool{}, long: 1,
		own: func(r rune) bool { _, mapped := t.key[r]; return !mapped }}
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		j := sort.Search(len(t.runes), func(j int) bool { return t.runes[j] >= lo })
		for ; j < len(t.runes) && t.runes[j] <= hi; j++ {
			k := []rune(t.key[t.runes[j]])
			switch len(k) {
			case 0:
				s.empty = true
			case 1:
				s.single[k[0]] = true
			default:
				s.multi.insert(k)
				s.long = max(s.long, len(k))
			}
		}
	}
	return s
}

// compileKeyGlob builds the keyGlob of the glob g (a name glob, or a URI
// glob when uri is set, whose * and ? do not match /).
func compileKeyGlob(g string, uri bool) (*keyGlob, error) {
	if _, err := compileGlob(g, uri); err != nil {
		return nil, err
	}
	toks, err := nameTokens(g)
	if err != nil {
		return nil, err
	}
	kg := &keyGlob{jump: 1}
	for _, tok := range toks {
		var ranges []rune
		switch {
		case tok.star:
			// The keys of the characters * stands for (all but / in a
			// URI) are all key characters: the fullwidth solidus keys to /.
			kg.toks = append(kg.toks, keyToken{star: true})
			continue
		case tok.any && uri:
			ranges = []rune{0, '/' - 1, '/' + 1, unicode.MaxRune}
		case tok.any:
			ranges = []rune{0, unicode.MaxRune}
		default:
			ranges = tok.ranges
		}
		set := imageOf(ranges)
		kg.jump = max(kg.jump, set.long)
		kg.toks = append(kg.toks, keyToken{set: set})
	}
	return kg, nil
}

// match reports whether k is the key of some name the glob matches, or
// every glob matches it (see key).
func (g *keyGlob) match(k key) bool {
	return k.all || g.matchKey(k.runes)
}

// matchKey runs the tokens over key: a state is a token index, and every
// step moves forward in key, by at most jump characters. Each position
// costs the states live there, not every token of the glob.
func (g *keyGlob) matchKey(key []rune) bool {
	n := len(g.toks)
	ring := make([]states, g.jump+1)
	marks := make([]bool, len(ring)*(n+1))
	live := 0 // the states in the ring
	for i := range ring {
		ring[i] = states{mark: marks[i*(n+1) : (i+1)*(n+1)], live: &live}
	}
	at := func(q int) *states { return &ring[q%len(ring)] }
	at(0).add(g, 0)
	for p := 0; ; p++ {
		cur := at(p)
		if p == len(key) {
			return cur.mark[n]
		}
		if live == 2 && len(cur.list) == 2 && g.toks[cur.list[0]].star && cur.list[1] == cur.list[0]+1 {
			// Only a star and the token after it: a trailing star
			// matches the rest; else skip to where that token may start.
			i := cur.list[0]
			if i+1 == n {
				return true
			}
			q := p
			for q < len(key) && !g.toks[i+1].set.starts(key[q]) {
				q++
			}
			if q > p {
				cur.reset()
				p = q
				cur = at(p)
				cur.add(g, i)
				if p == len(key) {
					return false
				}
			}
		}
		for _, i := range cur.list {
			if i == n {
				continue
			}
			tok := g.toks[i]
			if tok.star {
				at(p+1).add(g, i)
				continue
			}
			if tok.set.hasSingle(key[p]) {
				at(p+1).add(g, i+1)
			}
			for node, q := tok.set.multi.next[key[p]], p+1; node != nil; q++ {
				if node.end {
					at(q).add(g, i+1)
				}
				if q == len(key) {
					break
				}
				node = node.next[key[q]]
			}
		}
		cur.reset()
		if live == 0 {
			return false
		}
	}
}

// states is a set of token indices: a list of them, and marks.
type states struct {
	list []int
	mark []bool
	live *int // counts the states of every position
}

// add adds token i, and the tokens after it that a token taking nothing
// (a star, a character whose key is empty) lets the glob reach.
func (s *states) add(g *keyGlob, i int) {
	for !s.mark[i] {
		s.mark[i] = true
		s.list = append(s.list, i)
		*s.live++
		if i == len(g.toks) || !(g.toks[i].star || g.toks[i].set.empty) {
			return
		}
		i++
	}
}

func (s *states) reset() {
	for _, i := range s.list {
		s.mark[i] = false
	}
	*s.live -= len(s.list)
	s.list = s.list[:0]
}
