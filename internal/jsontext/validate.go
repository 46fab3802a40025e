package jsontext

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so a hostile frame cannot exhaust the stack.
const maxDepth = 512

// syntaxError says why a frame is not strict JSON, and where.
type syntaxError struct {
	Offset int
	Msg    string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// Validate checks that b is exactly one JSON value under the strict rules:
// valid UTF-8, no lone surrogate escapes, no duplicate member names at any
// depth (compared after unescaping), nesting at most 512 deep, and nothing
// but white space after the value.
func Validate(b []byte) error { return ValidateNested(b, 0) }

// ValidateNested is Validate for a value depth containers deep: the
// elements of a batch are one deep, and the bound counts the batch.
func ValidateNested(b []byte, depth int) error {
	s := scanner{b: b}
	s.ws()
	if err := s.value(depth); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.fail("trailing data after the JSON value")
	}
	return nil
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) fail(msg string) error { return &syntaxError{Offset: s.i, Msg: msg} }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) error {
	if s.i >= len(s.b) {
		return s.fail("unexpected end of JSON")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.skipStr()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.fail(fmt.Sprintf("unexpected character %q", c))
	}
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.i += len(lit)
	return nil
}

func (s *scanner) object(depth int) error {
	if depth > maxDepth {
		return s.fail("nested too deeply")
	}
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	// The names so far: views into the input (decoded copies when they
	// hold escapes), in a map once there are many.
	var small [8][]byte
	names := small[:0]
	var seen map[string]string
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.fail("expected a member name")
		}
		at := s.i
		name, err := s.strBytes()
		if err != nil {
			return err
		}
		// Names equal but for case are duplicates too: Go's encoding/json
		// (v1) matches them to one field, JavaScript to two.
		if seen != nil {
			key := foldKey(string(name))
			if prev, dup := seen[key]; dup {
				return dupError(at, prev, string(name))
			}
			seen[key] = string(name)
		} else {
			for _, n := range names {
				if bytes.EqualFold(n, name) {
					return dupError(at, string(n), string(name))
				}
			}
			names = append(names, name)
			if len(names) > 16 {
				seen = make(map[string]string, 32)
				for _, n := range names {
					seen[foldKey(string(n))] = string(n)
				}
			}
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("expected ':' after a member name")
		}
		s.i++
		s.ws()
		if err := s.value(depth); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("unexpected end of JSON in an object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case '}':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or '}' in an object")
		}
	}
}

func dupError(at int, first, second string) error {
	if first == second {
		return &syntaxError{Offset: at, Msg: fmt.Sprintf("duplicate member name %q", second)}
	}
	return &syntaxError{Offset: at, Msg: fmt.Sprintf("member names %q and %q differ only in case", first, second)}
}

// foldKey maps every name in a case-folding orbit (as strings.EqualFold
// sees it) to one key.
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	b := make([]rune, 0, len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b = append(b, min)
	}
	return string(b)
}

func (s *scanner) array(depth int) error {
	if depth > maxDepth {
		return s.fail("nested too deeply")
	}
	s.i++ // [
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		if err := s.value(depth); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("unexpected end of JSON in an array")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case ']':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or ']' in an array")
		}
	}
}

// strBytes reads a string: a view into the input when it holds no escape,
// else a decoded copy.
func (s *scanner) strBytes() ([]byte, error) {
	s.i++ // opening quote
	start := s.i
	var buf []byte
	escaped := false
	for {
		if s.i >= len(s.b) {
			return nil, s.fail("unterminated string")
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			out := s.b[start:s.i]
			if escaped {
				out = buf
			}
			s.i++
			return out, nil
		case c < 0x20:
			return nil, s.fail("control character in a string")
		case c == '\\':
			if !escaped {
				escaped = true
				buf = append(buf, s.b[start:s.i]...)
			}
			r, err := s.escape()
			if err != nil {
				return nil, err
			}
			buf = utf8.AppendRune(buf, r)
		case c < utf8.RuneSelf:
			if escaped {
				buf = append(buf, c)
			}
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, s.fail("invalid UTF-8")
			}
			if escaped {
				buf = append(buf, s.b[s.i:s.i+n]...)
			}
			s.i += n
		}
	}
}

// skipStr checks a string value without building it: runs of plain
// ASCII are passed eight bytes at a time.
func (s *scanner) skipStr() error {
	s.i++ // opening quote
	for {
		for s.i+8 <= len(s.b) && plain8(binary.LittleEndian.Uint64(s.b[s.i:])) {
			s.i += 8
		}
		if s.i >= len(s.b) {
			return s.fail("unterminated string")
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c < 0x20:
			return s.fail("control character in a string")
		case c == '\\':
			if _, err := s.escape(); err != nil {
				return err
			}
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n <= 1 {
				return s.fail("invalid UTF-8")
			}
			s.i += n
		}
	}
}

// plain8 reports whether none of eight bytes is a quote, a backslash, a
// control character or non-ASCII (the SWAR tests of "Bit Twiddling
// Hacks": a byte less than n, a byte equal to n).
func plain8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	less20 := (x - 0x20*lo) & ^x & hi
	quote := ((x ^ '"'*lo) - lo) & ^(x ^ '"'*lo) & hi
	bslash := ((x ^ '\\'*lo) - lo) & ^(x ^ '\\'*lo) & hi
	return (less20 | quote | bslash | x&hi) == 0
}

// escape decodes one escape sequence at s.i (the backslash), refusing lone
// surrogates: Go would read them as U+FFFD and JavaScript as themselves.
func (s *scanner) escape() (rune, error) {
	if s.i+1 >= len(s.b) {
		return 0, s.fail("unterminated escape")
	}
	c := s.b[s.i+1]
	s.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := s.hex4()
		if !ok {
			return 0, s.fail("invalid \\u escape")
		}
		if utf16.IsSurrogate(r) {
			if r >= 0xDC00 || s.i+1 >= len(s.b) || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
				return 0, s.fail("lone surrogate escape")
			}
			s.i += 2
			r2, ok := s.hex4()
			if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
				return 0, s.fail("lone surrogate escape")
			}
			return utf16.DecodeRune(r, r2), nil
		}
		return r, nil
	default:
		return 0, s.fail(fmt.Sprintf("invalid escape \\%c", c))
	}
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return s.fail("invalid number")
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if !s.digits() {
		return s.fail("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return s.fail("invalid number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return s.fail("invalid number")
		}
	}
	return nil
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
