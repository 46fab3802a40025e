package profiles

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
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
			return fmt.Errorf("within: %q is not an absolute path", w)
		}
	}
	if r.Match != "" {
		if _, err := regexp.Compile(r.Match); err != nil {
			return fmt.Errorf("match: bad regular expression: %v", err)
		}
	}
	for _, e := range r.Enum {
		switch e.(type) {
		case string, int64, float64, bool:
		default:
			return fmt.Errorf("enum: %v is not a string, number or boolean", e)
		}
	}
	if r.MaxLen < 0 {
		return errors.New("max_len: must not be negative")
	}
	return nil
}

// neverMatches says why no canonical URI (CanonicalURI) can match the
// URI glob g, or returns "": a glob written with what canonical forms
// never hold (. and .. segments, percent-escapes that are decoded, a
// host in a file: URI, an upper-case scheme) would allow or deny
// nothing.
func neverMatches(g string) string {
	scheme, rest, ok := cutScheme(g)
	if !ok {
		return "" // the scheme holds metacharacters, or there is none
	}
	if scheme != strings.ToLower(scheme) {
		return "the scheme is compared in lower case"
	}
	literal := func(seg string) bool { return !strings.ContainsAny(seg, `*?[\`) }
	file := scheme == "file"
	if file {
		// Every canonical file: URI is file:///PATH.
		for i := 0; i < 3 && i < len(rest) && literal(rest[i:i+1]); i++ {
			if rest[i] != '/' {
				return "file: URIs are compared as file:///PATH, without a host"
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
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~':
			return "escapes of letters, digits and -._~ are compared decoded"
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
