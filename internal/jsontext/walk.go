package jsontext

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

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

// TypeOf names the JSON type of a validated value by its first byte:
// object, array, string, boolean, null, or number for anything else; and
// "absent" for no value at all (a member Lookup did not find).
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
