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
