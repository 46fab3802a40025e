package jsontext

import "encoding/json"

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
