package jsontext

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

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

// str scans a string literal and returns its decoded value; the decoded
// value is built only when the literal holds an escape.
func (s *scanner) str() (string, error) {
	b, err := s.strBytes()
	return string(b), err
}

// Quote encodes s as a JSON string.
func Quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// StringBytes decodes a validated JSON string value without checking it
// again: the bytes between the quotes when it holds no escape (a view into
// raw), else a decoded copy; runs without escapes are found with
// IndexByte, so a long string costs little. ok is false for any other kind
// of value.
func StringBytes(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	b := raw[1 : len(raw)-1]
	j := bytes.IndexByte(b, '\\')
	if j < 0 {
		return b, true
	}
	dec := make([]byte, 0, len(b))
	s := scanner{b: b}
	for j >= 0 {
		dec = append(dec, b[s.i:s.i+j]...)
		s.i += j
		r, err := s.escape()
		if err != nil {
			return nil, false
		}
		dec = utf8.AppendRune(dec, r)
		j = bytes.IndexByte(b[s.i:], '\\')
	}
	return append(dec, b[s.i:]...), true
}

// QuoteNoHTML is Quote without HTML escaping: <, > and & stay as they are.
func QuoteNoHTML(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// StringEnd finds the quote that ends the JSON string starting at
// b[start], or -1.
func StringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		n := 0
		for k := q - 1; k > start && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
	return -1
}
