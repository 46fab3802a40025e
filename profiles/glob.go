package profiles

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// compileGlob turns a glob into an anchored regexp. In names (tools,
// prompts) `*` matches any run of characters; in URIs `*` stops at `/` and
// `**` crosses it. `?` is one character; `[...]` a class; `\` escapes.
func compileGlob(g string, uri bool) (*regexp.Regexp, error) {
	if g == "" {
		return nil, errors.New("empty glob")
	}
	if !utf8.ValidString(g) {
		return nil, fmt.Errorf("glob %q is not valid UTF-8", g)
	}
	star, one := ".*", "."
	if uri {
		star, one = "[^/]*", "[^/]"
	}
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			if uri && i+1 < len(g) && g[i+1] == '*' {
				b.WriteString(".*")
				i++
			} else {
				b.WriteString(star)
			}
		case '?':
			b.WriteString(one)
		case '[':
			j := strings.IndexByte(g[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("glob %q: unclosed [", g)
			}
			class := g[i+1 : i+1+j]
			if class == "" || class == "!" || class == "^" {
				return nil, fmt.Errorf("glob %q: empty character class", g)
			}
			if class[0] == '!' {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		case '\\':
			if i+1 >= len(g) {
				return nil, fmt.Errorf("glob %q: trailing \\", g)
			}
			_, n := utf8.DecodeRuneInString(g[i+1:])
			b.WriteString(regexp.QuoteMeta(g[i+1 : i+1+n]))
			i += n
		default:
			// A whole character: a byte of a multi-byte one is not a rune.
			_, n := utf8.DecodeRuneInString(g[i:])
			b.WriteString(regexp.QuoteMeta(g[i : i+n]))
			i += n - 1
		}
	}
	b.WriteString(`)$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("glob %q: %v", g, err)
	}
	return re, nil
}

func checkArgRule(r ArgRule) error {
	if r.Within == nil && r.Match == "" && r.Enum == nil && r.MaxLen == 0 {
		return errors.New("a constraint needs within, match, enum or max_len")
	}
	for _, w := range r.Within {
		if !filepath.IsAbs(w) {
			return fmt.Errorf("within: %s", notAbsolute(w, ""))
		}
	}
	if r.Match != "" {
		if _, err := regexp.Compile(r.Match); err != nil {
			return fmt.Errorf("match: bad regular expression: %v", err)
		}
	}
	for _, e := range r.Enum {
		switch e := e.(type) {
		case string, int64, bool:
		case float64:
			// A float is compared as the shortest decimal that reads back
			// as it; past 2^53 that is not the number written.
			switch {
			case math.IsNaN(e) || math.IsInf(e, 0):
				return fmt.Errorf("enum: %v can never match: JSON has no such number", e)
			case math.Abs(e) >= 1<<53:
				return fmt.Errorf("enum: %v is a float beyond 2^53, which 64-bit floats cannot hold exactly: write a whole number without a point or an exponent", e)
			}
		default:
			return fmt.Errorf("enum: %v is not a string, number or boolean", e)
		}
	}
	if r.MaxLen < 0 {
		return errors.New("max_len: must not be negative")
	}
	return nil
}

// nameToken is one element of a name glob: a star, or one character from
// a set (any character when any is set; else the ranges, lo-hi pairs).
type nameToken struct {
	star, any bool
	ranges    []rune
}

// empty reports whether no character matches t.
func (t nameToken) empty() bool { return !t.star && !t.any && len(t.ranges) == 0 }

// meets reports whether some character matches both t and u (neither a
// star).
func (t nameToken) meets(u nameToken) bool {
	switch {
	case t.empty() || u.empty():
		return false
	case t.any || u.any:
		return true
	}
	for i := 0; i < len(t.ranges); i += 2 {
		for j := 0; j < len(u.ranges); j += 2 {
			if t.ranges[i] <= u.ranges[j+1] && u.ranges[j] <= t.ranges[i+1] {
				return true
			}
		}
	}
	return false
}

// nameTokens splits a name glob (as compileGlob reads it) into tokens. A
// class is read by the regexp parser compileGlob hands it to, so both see
// the same characters.
func nameTokens(g string) ([]nameToken, error) {
	var out []nameToken
	for i := 0; i < len(g); {
		switch g[i] {
		case '*':
			if len(out) == 0 || !out[len(out)-1].star {
				out = append(out, nameToken{star: true})
			}
			i++
		case '?':
			out = append(out, nameToken{any: true})
			i++
		case '[':
			j := strings.IndexByte(g[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("glob %q: unclosed [", g)
			}
			class := g[i+1 : i+1+j]
			if class != "" && class[0] == '!' {
				class = "^" + class[1:]
			}
			re, err := syntax.Parse("["+strings.ReplaceAll(class, `\`, `\\`)+"]", syntax.Perl)
			if err != nil {
				return nil, fmt.Errorf("glob %q: %v", g, err)
			}
			out = append(out, classToken(re))
			i += j + 2
		case '\\':
			if i+1 >= len(g) {
				return nil, fmt.Errorf("glob %q: trailing \\", g)
			}
			r, n := utf8.DecodeRuneInString(g[i+1:])
			out = append(out, nameToken{ranges: []rune{r, r}})
			i += 1 + n
		default:
			r, n := utf8.DecodeRuneInString(g[i:])
			out = append(out, nameToken{ranges: []rune{r, r}})
			i += n
		}
	}
	return out, nil
}

// classToken is the token of a parsed character class.
func classToken(re *syntax.Regexp) nameToken {
	switch re.Op {
	case syntax.OpCharClass:
		return nameToken{ranges: re.Rune}
	case syntax.OpLiteral:
		var t nameToken
		for _, r := range re.Rune {
			t.ranges = append(t.ranges, r, r)
		}
		return t
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return nameToken{any: true}
	}
	return nameToken{} // matches nothing
}

// literal returns the one name a glob without metacharacters matches.
func literal(toks []nameToken) (string, bool) {
	var b strings.Builder
	for _, t := range toks {
		if t.star || t.any || len(t.ranges) != 2 || t.ranges[0] != t.ranges[1] {
			return "", false
		}
		b.WriteRune(t.ranges[0])
	}
	return b.String(), true
}

// globsMeet reports whether some name matches both name globs a and b: a
// search over pairs of positions in the two globs (the product of their
// automata), in O(len(a)·len(b)).
func globsMeet(a, b string) bool {
	ta, err1 := nameTokens(a)
	tb, err2 := nameTokens(b)
	if err1 != nil || err2 != nil {
		return false
	}
	n, m := len(ta), len(tb)
	seen := make([]bool, (n+1)*(m+1))
	stack := [][2]int{{0, 0}}
	push := func(i, j int) {
		if !seen[i*(m+1)+j] {
			seen[i*(m+1)+j] = true
			stack = append(stack, [2]int{i, j})
		}
	}
	seen[0] = true
	for len(stack) > 0 {
		i, j := stack[len(stack)-1][0], stack[len(stack)-1][1]
		stack = stack[:len(stack)-1]
		if i == n && j == m {
			return true
		}
		starA, starB := i < n && ta[i].star, j < m && tb[j].star
		if starA {
			push(i+1, j) // a's star matches nothing more
			if j < m && !starB && !tb[j].empty() {
				push(i, j+1) // a's star takes the character b's token matches
			}
		}
		if starB {
			push(i, j+1)
			if i < n && !starA && !ta[i].empty() {
				push(i+1, j)
			}
		}
		if i < n && j < m && !starA && !starB && ta[i].meets(tb[j]) {
			push(i+1, j+1)
		}
	}
	return false
}

// globCovers reports whether every name inner matches, outer matches too.
// It answers for the cases that are plain to decide (the same glob, an
// outer glob of stars only, a literal inner name) and says false
// otherwise, so a caller must treat false as "maybe not".
func globCovers(outer, inner string) bool {
	if outer == inner {
		return true
	}
	to, err := nameTokens(outer)
	if err != nil {
		return false
	}
	if len(to) == 1 && to[0].star {
		return true
	}
	ti, err := nameTokens(inner)
	if err != nil {
		return false
	}
	if name, ok := literal(ti); ok {
		re, err := compileGlob(outer, false)
		return err == nil && re.MatchString(name)
	}
	return false
}

// neverMatches says why no canonical URI (CanonicalURI) can match the
// URI glob g, or returns "": a glob written with what canonical forms
// never hold (. and .. segments, percent-escapes that are decoded, a
// host in a file: URI, an upper-case scheme or host, a default port,
// characters that are compared as escapes) would allow or deny nothing.
func neverMatches(g string) string {
	scheme, rest, ok := cutScheme(g)
	if !ok {
		return "" // the scheme holds metacharacters, or there is none
	}
	if scheme != strings.ToLower(scheme) {
		return "the scheme is compared in lower case"
	}
	meta := func(s string) bool { return strings.ContainsAny(s, `*?[\`) }
	if !meta(g) {
		// Without metacharacters a glob matches one URI, in its canonical form.
		canon, err := CanonicalURI(g)
		switch {
		case err != nil:
			return "the URI " + err.(*URIError).Reason
		case canon != g:
			return "URIs are compared in their canonical form, here " + canon
		}
		return ""
	}
	literal := func(seg string) bool { return !meta(seg) }
	file := scheme == "file"
	_, special := defaultPorts[scheme]
	if file {
		// Every canonical file: URI is file:///PATH.
		for i := 0; i < 3 && i < len(rest) && literal(rest[i:i+1]); i++ {
			if rest[i] != '/' {
				return "file: URIs are compared as file:///PATH, without a host"
			}
		}
	} else {
		for i := 0; i < len(g); i++ {
			switch c := g[i]; {
			case c == '#':
				return "URIs with a fragment (#) are refused"
			case c >= 0x80:
				return "non-ASCII characters are compared as escapes of their UTF-8 bytes (é as %C3%A9)"
			case strings.IndexByte(" \"<>^`|", c) >= 0:
				return fmt.Sprintf("%q is compared as the escape %%%02X", c, c)
			}
		}
		if special && rest != "" && literal(rest[:1]) && !strings.HasPrefix(rest, "//") {
			return fmt.Sprintf("%s: URIs are compared as %s://HOST/PATH", scheme, scheme)
		}
		if auth, ok := strings.CutPrefix(rest, "//"); ok {
			if i := strings.IndexAny(auth, "/?"); i >= 0 {
				auth = auth[:i]
			}
			if !meta(auth) {
				canon, err := CanonicalURI(scheme + "://" + auth + "/")
				switch {
				case err != nil:
					return "the URI " + err.(*URIError).Reason
				case canon != scheme+"://"+auth+"/":
					return "hosts and ports are compared in their canonical form, here " + strings.TrimSuffix(canon, "/")
				}
			} else if auth != strings.ToLower(auth) {
				return "hosts are compared in lower case"
			}
		}
	}
	for i := 0; i+2 < len(g); i++ {
		c, ok := escaped(g, i)
		if !ok || g[i] != '%' {
			continue
		}
		switch {
		case file:
			return "file: URIs are compared with their percent-escapes decoded"
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '{' || c == '}':
			return "escapes of letters, digits, -._~ and { } are compared decoded"
		case strings.ToUpper(g[i:i+3]) != g[i:i+3]:
			return "percent-escapes are compared in upper case"
		}
	}
	hier, _, _ := strings.Cut(rest, "?")
	segs := strings.Split(hier, "/")
	for i, seg := range segs {
		switch {
		case !literal(seg):
		case seg == "." || seg == "..":
			return ". and .. segments are resolved (file:) or refused before a URI is compared"
		case file && seg == "" && i > 3 && i < len(segs)-1:
			return "empty segments (//) are refused in file: URIs"
		}
	}
	return ""
}
