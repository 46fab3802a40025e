package profiles

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// A server written with Go's encoding/json (mcp-go, among others) reads
// member names with strings.EqualFold, and some servers look tools up
// case-insensitively: to them "Path" is "path" and "HIDDEN" is "hidden".
// mcpcell reads each name the policy decides on in one spelling, and a
// deny glob denies a name when it matches any spelling of it.

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
	v, spelled := jsonrpc.LookupFold(obj, name)
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
	jsonrpc.EachMember(obj, func(n, v []byte) bool {
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
	return jsonrpc.String(r.get(obj, name))
}

// foldAny returns a regexp that matches a string when re matches some
// spelling of it: some choice, character by character, of a character
// that folds to it (unicode.SimpleFold's orbit, as strings.EqualFold
// reads it: K also stands for the Kelvin sign, s for the long s). re is
// a glob compiled by compileGlob: literals, character classes, and any
// character. A class stands for the characters whose orbit meets it, so
// that [!a]b matches "AB" through the spelling "Ab"; a class of
// (?i) itself would not, since under (?i) a negated class excludes whole
// orbits.
func foldAny(re *regexp.Regexp) (*regexp.Regexp, error) {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil, err
	}
	if err := foldTree(tree); err != nil {
		return nil, err
	}
	return regexp.Compile(tree.String())
}

func foldTree(re *syntax.Regexp) error {
	switch re.Op {
	case syntax.OpLiteral:
		re.Flags |= syntax.FoldCase
	case syntax.OpCharClass:
		r, err := foldClass(re.Rune)
		if err != nil {
			return err
		}
		re.Rune = r
	}
	for _, sub := range re.Sub {
		if err := foldTree(sub); err != nil {
			return err
		}
	}
	return nil
}

// foldClass returns the ranges of the characters whose orbit meets the
// class ranges: the parser's own folding of a class (?i:[...]).
func foldClass(ranges []rune) ([]rune, error) {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i+1 < len(ranges); i += 2 {
		fmt.Fprintf(&b, `\x{%x}-\x{%x}`, ranges[i], ranges[i+1])
	}
	b.WriteString("]")
	t, err := syntax.Parse(b.String(), syntax.Perl|syntax.FoldCase)
	if err != nil {
		return nil, err
	}
	switch t.Op {
	case syntax.OpCharClass:
		return t.Rune, nil
	case syntax.OpAnyChar:
		return []rune{0, unicode.MaxRune}, nil
	case syntax.OpAnyCharNotNL:
		return []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}, nil
	case syntax.OpLiteral:
		var out []rune
		for _, r := range t.Rune {
			out = append(out, r, r)
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				out = append(out, f, f)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("folding the character class %s: unexpected %v", b.String(), t.Op)
}
