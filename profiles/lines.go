package profiles

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The TOML library reports lines only for its own errors, so key lines
// are found here, by a scanner of the text that reads keys as TOML does:
// table headers, dotted keys (args."write_*".path = …), quoted keys with
// dots inside ("a.b"), and the keys of inline tables at any depth, also
// inside arrays; strings, multi-line ones among them, and comments are
// skipped, so text inside them is never taken for a key.
//
// A key is named by its dotted form (dotted): each part bare where TOML
// allows it, quoted otherwise.

// dotted writes key parts as one TOML key: tools.args."read_*".path.
func dotted(parts ...string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = tomlKey(p)
	}
	return strings.Join(q, ".")
}

// keyLines maps each key (in its dotted form) to the line that first
// defines it; a dotted key also defines the tables it names on the way.
// src has been read by the TOML library already; on text it would refuse
// the scanner still ends, with what it found.
func keyLines(src []byte) map[string]int {
	s := &keyScanner{src: string(src), line: 1, out: map[string]int{}}
	var table []string
	for s.i < len(s.src) {
		start := s.i
		s.space()
		switch c := s.peek(); c {
		case '\n', '#', 0:
			s.rest()
		case '[':
			s.i++
			if s.peek() == '[' {
				s.i++
			}
			s.space()
			if parts, ok := s.key(); ok {
				table = cutKey(parts)
				s.record(table)
			}
			s.rest()
		default:
			parts, ok := s.key()
			if !ok || s.peek() != '=' {
				s.rest()
				break
			}
			s.i++
			key := cutKey(append(append([]string(nil), table...), parts...))
			s.record(key)
			s.value(key, 0)
			s.rest()
		}
		if s.i == start {
			s.i++ // never stuck, whatever the text
		}
	}
	return s.out
}

// keyScanner reads TOML text for the lines of its keys.
type keyScanner struct {
	src  string
	i    int
	line int
	out  map[string]int
}

// maxDepth bounds the parts of a key the scanner records and the nesting
// of arrays and inline tables it follows: no profile comes near it.
const maxDepth = 100

func (s *keyScanner) peek() byte {
	if s.i < len(s.src) {
		return s.src[s.i]
	}
	return 0
}

// record notes the line of key and of each table it names on the way.
func (s *keyScanner) record(key []string) {
	k := ""
	for i, part := range key {
		if i > 0 {
			k += "."
		}
		k += tomlKey(part)
		if _, ok := s.out[k]; !ok {
			s.out[k] = s.line
		}
	}
}

// cutKey cuts a key to maxDepth parts: deeper keys take the line of
// their ancestor at that depth, and no text makes the scanner's work
// grow with the square of its length.
func cutKey(key []string) []string {
	if len(key) > maxDepth {
		return key[:maxDepth]
	}
	return key
}

// space skips blanks on the line.
func (s *keyScanner) space() {
	for s.i < len(s.src) && (s.src[s.i] == ' ' || s.src[s.i] == '\t' || s.src[s.i] == '\r') {
		s.i++
	}
}

// gap skips blanks, newlines and comments: the space between the values
// of an array or (TOML 1.1) the entries of an inline table.
func (s *keyScanner) gap() {
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case ' ', '\t', '\r':
			s.i++
		case '\n':
			s.i++
			s.line++
		case '#':
			for s.i < len(s.src) && s.src[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

// rest skips to the start of the next line.
func (s *keyScanner) rest() {
	for s.i < len(s.src) && s.src[s.i] != '\n' {
		s.i++
	}
	if s.i < len(s.src) {
		s.i++
		s.line++
	}
}

// key reads a dotted key (a . "b.c" . 'd') and the blanks after it.
func (s *keyScanner) key() ([]string, bool) {
	var parts []string
	for {
		s.space()
		part, ok := s.simpleKey()
		if !ok {
			return nil, false
		}
		parts = append(parts, part)
		s.space()
		if s.peek() != '.' {
			return parts, true
		}
		s.i++
	}
}

// simpleKey reads one bare or quoted key.
func (s *keyScanner) simpleKey() (string, bool) {
	switch s.peek() {
	case '"':
		return s.basic()
	case '\'':
		end := strings.IndexAny(s.src[s.i+1:], "'\n")
		if end < 0 || s.src[s.i+1+end] != '\'' {
			return "", false
		}
		k := s.src[s.i+1 : s.i+1+end]
		s.i += end + 2
		return k, true
	}
	start := s.i
	for s.i < len(s.src) && isBare(s.src[s.i]) {
		s.i++
	}
	return s.src[start:s.i], s.i > start
}

func isBare(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// basic reads a one-line basic string, its escapes decoded.
func (s *keyScanner) basic() (string, bool) {
	var b strings.Builder
	for j := s.i + 1; j < len(s.src); j++ {
		switch c := s.src[j]; c {
		case '"':
			s.i = j + 1
			return b.String(), true
		case '\n':
			return "", false
		case '\\':
			if j+1 >= len(s.src) {
				return "", false
			}
			j++
			switch e := s.src[j]; e {
			case 'b', 't', 'n', 'f', 'r', 'e', '"', '\\':
				b.WriteByte(map[byte]byte{'b': '\b', 't': '\t', 'n': '\n', 'f': '\f', 'r': '\r', 'e': 0x1b, '"': '"', '\\': '\\'}[e])
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if j+n >= len(s.src) {
					return "", false
				}
				r, err := strconv.ParseUint(s.src[j+1:j+1+n], 16, 32)
				if err != nil || !utf8.ValidRune(rune(r)) {
					return "", false
				}
				b.WriteRune(rune(r))
				j += n
			default:
				return "", false
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// value skips the value after key =, noting the keys of inline tables.
func (s *keyScanner) value(key []string, depth int) {
	s.space()
	switch {
	case depth > maxDepth:
		return
	case strings.HasPrefix(s.src[s.i:], `"""`), strings.HasPrefix(s.src[s.i:], `'''`):
		s.multiline(s.src[s.i : s.i+3])
	case s.peek() == '"':
		if _, ok := s.basic(); !ok {
			s.i++
		}
	case s.peek() == '\'':
		s.simpleKey()
	case s.peek() == '[':
		s.i++
		for s.i < len(s.src) {
			start := s.i
			s.gap()
			if c := s.peek(); c == ']' || c == 0 {
				s.i++
				return
			}
			s.value(key, depth+1)
			s.gap()
			if s.peek() == ',' {
				s.i++
			}
			if s.i == start {
				return
			}
		}
	case s.peek() == '{':
		s.i++
		for s.i < len(s.src) {
			start := s.i
			s.gap()
			if c := s.peek(); c == '}' || c == 0 {
				s.i++
				return
			}
			parts, ok := s.key()
			if !ok || s.peek() != '=' {
				return
			}
			s.i++
			inner := cutKey(append(append([]string(nil), key...), parts...))
			s.record(inner)
			s.value(inner, depth+1)
			s.gap()
			if s.peek() == ',' {
				s.i++
			}
			if s.i == start {
				return
			}
		}
	default:
		// A number, a boolean or a date: up to what ends a value.
		for s.i < len(s.src) && !strings.ContainsRune(",]}\n#", rune(s.src[s.i])) {
			s.i++
		}
	}
}

// multiline skips a multi-line string, basic or literal (quote is its
// three quotes), counting its lines.
func (s *keyScanner) multiline(quote string) {
	for j := s.i + 3; j < len(s.src); j++ {
		switch {
		case s.src[j] == '\n':
			s.line++
		case s.src[j] == '\\' && quote == `"""`:
			if j+1 < len(s.src) && s.src[j+1] == '\n' {
				s.line++
			}
			j++
		case strings.HasPrefix(s.src[j:], quote):
			j += 3
			// Up to two more quotes belong to the string.
			for k := 0; k < 2 && j < len(s.src) && s.src[j] == quote[0]; k++ {
				j++
			}
			s.i = j
			return
		}
	}
	s.i = len(s.src)
}

// lineOf finds the line of key (in its dotted form), or of its nearest
// written parent.
func lineOf(lines map[string]int, key string) int {
	for k := key; k != ""; {
		if n, ok := lines[k]; ok {
			return n
		}
		k = parentKey(k)
	}
	return 0
}

// parentKey drops the last part of a dotted key: the text before its last
// dot outside quotes.
func parentKey(k string) string {
	last := -1
	quoted := false
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '.':
			last = i
		}
	}
	if last < 0 {
		return ""
	}
	return k[:last]
}
