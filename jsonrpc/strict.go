package jsonrpc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so a hostile frame cannot exhaust the stack.
const maxDepth = 512

// SyntaxError says why a frame is not strict JSON, and where.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// Validate checks that b is exactly one JSON value under the strict rules:
// valid UTF-8, no lone surrogate escapes, no duplicate member names at any
// depth (compared after unescaping), nesting at most 512 deep, and nothing
// but white space after the value.
func Validate(b []byte) error { return validate(b, 0) }

// validate is Validate for a value depth containers deep.
func validate(b []byte, depth int) error {
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

func (s *scanner) fail(msg string) error { return &SyntaxError{Offset: s.i, Msg: msg} }

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
		return &SyntaxError{Offset: at, Msg: fmt.Sprintf("duplicate member name %q", second)}
	}
	return &SyntaxError{Offset: at, Msg: fmt.Sprintf("member names %q and %q differ only in case", first, second)}
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

// str scans a string literal and returns its decoded value; the decoded
// value is built only when the literal holds an escape.
func (s *scanner) str() (string, error) {
	b, err := s.strBytes()
	return string(b), err
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

// Member is one name/value pair of an object, as found in already
// validated JSON. Value is a subslice of the scanned bytes; Start and End
// are its offsets there, so a caller can splice a new value in.
type Member struct {
	Name       string
	Value      []byte
	Start, End int
}

// Members lists the members of the object raw, which must have passed
// Validate (alone or inside a larger value).
func Members(raw []byte) ([]Member, error) {
	var out []Member
	err := eachMember(raw, func(name []byte, start, end int) bool {
		out = append(out, Member{Name: string(name), Value: raw[start:end], Start: start, End: end})
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachMember walks the members of the validated object raw, in order,
// without copying their names: it calls yield with each decoded name and
// where its value starts and ends, until yield returns false.
func eachMember(raw []byte, yield func(name []byte, start, end int) bool) error {
	s := scanner{b: raw}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return errNotObject
	}
	s.i++
	s.ws()
	for s.i < len(s.b) && s.b[s.i] != '}' {
		name, err := s.strBytes()
		if err != nil {
			return err
		}
		s.ws()
		s.i++ // :
		s.ws()
		start := s.i
		if err := s.skip(); err != nil {
			return err
		}
		end := s.i
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
			s.ws()
		}
		if !yield(name, start, end) {
			return nil
		}
	}
	if s.i >= len(s.b) {
		return s.fail("unexpected end of object")
	}
	return nil
}

// Elements lists the elements of the array raw, which must have passed
// Validate.
func Elements(raw []byte) ([][]byte, error) {
	var out [][]byte
	err := EachElement(raw, func(e []byte) bool { out = append(out, e); return true })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachElement calls yield with each element of the array raw, which must
// have passed Validate, in order, until it returns false. Unlike Elements
// it keeps nothing: a frame's worth of tiny elements costs no slice.
func EachElement(raw []byte, yield func(elem []byte) bool) error {
	s := scanner{b: raw}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return errNotArray
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		return nil
	}
	for {
		start := s.i
		if err := s.skip(); err != nil {
			return err
		}
		if !yield(raw[start:s.i]) {
			return nil
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("unexpected end of array")
		}
		if s.b[s.i] == ']' {
			return nil
		}
		s.i++
		s.ws()
	}
}

var (
	errNotObject = errors.New("not a JSON object")
	errNotArray  = errors.New("not a JSON array")
)

// skip moves past one value of validated JSON without checking it again.
func (s *scanner) skip() error {
	depth := 0
	inStr := false
	for s.i < len(s.b) {
		c := s.b[s.i]
		if inStr {
			// Jump to the next quote; it ends the string unless an odd run
			// of backslashes escapes it.
			j := bytes.IndexByte(s.b[s.i:], '"')
			if j < 0 {
				return s.fail("unexpected end of JSON")
			}
			s.i += j
			k := s.i
			for k > 0 && s.b[k-1] == '\\' {
				k--
			}
			if (s.i-k)%2 == 1 {
				s.i++
				continue
			}
			inStr = false
			s.i++
			if depth == 0 {
				return nil
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // end of the enclosing container
				return nil
			}
			depth--
			if depth == 0 {
				s.i++
				return nil
			}
		case ',', ' ', '\t', '\n', '\r', ':':
			if depth == 0 {
				return nil
			}
		}
		s.i++
	}
	if depth != 0 || inStr {
		return s.fail("unexpected end of JSON")
	}
	return nil
}

// Lookup returns the value of member name in the validated object raw, or
// nil when absent. Names match exactly.
func Lookup(raw []byte, name string) []byte {
	var found []byte
	EachMember(raw, func(n, value []byte) bool {
		if string(n) == name {
			found = value
			return false
		}
		return true
	})
	return found
}

// LookupFold is Lookup for a name a reader that folds case would take
// for name: Go's encoding/json (v1) matches member names to fields with
// strings.EqualFold, so to a server written with it "Path", "PATH" and
// "pa\u017fh" (with a long s) are "path". It returns the value of the
// member whose name equals name under that folding, and the member's own
// name in spelled when that is not name itself; Validate refuses an
// object with two such members, so there is at most one.
func LookupFold(raw []byte, name string) (value []byte, spelled string) {
	EachMember(raw, func(n, v []byte) bool {
		if string(n) == name {
			value = v
			return false
		}
		if foldEqual(n, name) {
			value, spelled = v, string(n)
			return false
		}
		return true
	})
	return value, spelled
}

// foldEqual is strings.EqualFold(string(n), name) without a copy of n,
// quick to say no for ASCII names of another length.
func foldEqual(n []byte, name string) bool {
	if len(n) != len(name) && isASCII(n) && isASCII([]byte(name)) {
		return false
	}
	return bytes.EqualFold(n, []byte(name))
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// EachMember calls yield with each member of the validated object raw, in
// order, until it returns false. The name is decoded; both slices are
// only valid during the call. Unlike Members it copies nothing.
func EachMember(raw []byte, yield func(name, value []byte) bool) error {
	return eachMember(raw, func(name []byte, start, end int) bool { return yield(name, raw[start:end]) })
}

// String decodes a validated JSON string value; ok is false for any other
// kind of value.
func String(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	s := scanner{b: raw}
	v, err := s.str()
	return v, err == nil
}

// TypeOf names the JSON type of a validated value: object, array, string,
// number, boolean or null.
func TypeOf(raw []byte) string {
	if len(raw) == 0 {
		return "absent"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// Quote encodes s as a JSON string.
func Quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
