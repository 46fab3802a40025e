package keystore

import (
	"bytes"
	"unicode/utf8"
)

// maxNesting is how many levels of backslash escapes are decoded: a
// value in a JSON string in a JSON document in a frame's string is two.
const maxNesting = 4

// unescape decodes the backslash escapes of b (inner's decoding, or the
// text when inner is nil) as JSON, JavaScript and Python write them; nil
// when there are none, not even one cut short.
func unescape(b []byte, inner *view) *view {
	return decodeEscapes(b, inner, '\\', func(dst, s []byte) ([]byte, int, int) {
		c, n, st := escapeAt(s)
		if st == escOK {
			dst = utf8.AppendRune(dst, c)
		}
		return dst, n, st
	})
}

// decodeEscapes decodes the escapes that begin with lead in b (inner's
// decoding, or the text when inner is nil); nil when there are none, not
// even one cut short. at reads the escape at the start of s, appending
// what it decodes to dst when it is escOK: its length, or escCut when s
// ends inside it, or escBad when it is none (lead stands for itself).
// Only what is decided counts: an escape that runs into the undecided
// rest of the source is cut short here too.
func decodeEscapes(b []byte, inner *view, lead byte, at func(dst, s []byte) ([]byte, int, int)) *view {
	v, end := newView(b, inner)
	cut := -1
	i := 0
	for i < end {
		j := bytes.IndexByte(b[i:end], lead)
		if j < 0 {
			v.dec = append(v.dec, b[i:end]...)
			i = end
			break
		}
		v.dec = append(v.dec, b[i:i+j]...)
		i += j
		d := len(v.dec)
		var n, st int
		v.dec, n, st = at(v.dec, b[i:end])
		switch st {
		case escOK:
			v.escape(i, n, len(v.dec)-d)
			i += n
		case escCut:
			cut = i
			end = i
		default:
			v.dec = append(v.dec, lead)
			i++
		}
	}
	return v.finish(b, i, cut)
}

const (
	escBad = iota
	escOK
	escCut // the text ends inside what may be an escape
)

// escapeAt decodes the escape at the start of s (s[0] is a backslash).
func escapeAt(s []byte) (rune, int, int) {
	if len(s) < 2 {
		return 0, 0, escCut
	}
	switch c := s[1]; c {
	case '"', '\\', '/', '\'':
		return rune(c), 2, escOK
	case 'b':
		return '\b', 2, escOK
	case 'f':
		return '\f', 2, escOK
	case 'n':
		return '\n', 2, escOK
	case 'r':
		return '\r', 2, escOK
	case 't':
		return '\t', 2, escOK
	case 'x':
		return hexRune(s, 2, 2)
	case 'U':
		r, n, st := hexRune(s, 2, 8)
		if st == escOK && r >= 0xD800 && r <= 0xDFFF {
			return 0, 0, escBad
		}
		return r, n, st
	case 'u':
		if len(s) > 2 && s[2] == '{' {
			for k := 3; k < len(s) && k <= 10; k++ {
				switch {
				case s[k] == '}' && k > 3:
					r, _, st := hexRune(s[:k], 3, k-3)
					if st != escOK || r >= 0xD800 && r <= 0xDFFF {
						return 0, 0, escBad
					}
					return r, k + 1, escOK
				case !isHex(s[k]):
					return 0, 0, escBad
				}
			}
			if len(s) <= 10 {
				return 0, 0, escCut
			}
			return 0, 0, escBad
		}
		r, n, st := hexRune(s, 2, 4)
		if st != escOK || r < 0xD800 || r > 0xDFFF {
			return r, n, st
		}
		if r >= 0xDC00 {
			return 0, 0, escBad
		}
		// A high surrogate counts only with a low one after it.
		low := s[6:]
		if len(low) < 6 {
			if bytes.HasPrefix([]byte(`\u`), low[:min(2, len(low))]) && allHex(low[min(2, len(low)):]) {
				return 0, 0, escCut
			}
			return 0, 0, escBad
		}
		if low[0] != '\\' || low[1] != 'u' {
			return 0, 0, escBad
		}
		r2, _, st := hexRune(low, 2, 4)
		if st != escOK || r2 < 0xDC00 || r2 > 0xDFFF {
			return 0, 0, escBad
		}
		return 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00), 12, escOK
	}
	return 0, 0, escBad
}

// hexRune reads n hex digits at s[from:].
func hexRune(s []byte, from, n int) (rune, int, int) {
	if len(s) < from+n {
		if allHex(s[from:]) {
			return 0, 0, escCut
		}
		return 0, 0, escBad
	}
	var r rune
	for _, c := range s[from : from+n] {
		if !isHex(c) {
			return 0, 0, escBad
		}
		r = r<<4 | rune(unhex(c))
	}
	if r > utf8.MaxRune || r < 0 {
		return 0, 0, escBad
	}
	return r, from + n, escOK
}

func allHex(b []byte) bool {
	for _, c := range b {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// unpercent decodes the percent-escapes of b (inner's decoding, or the
// text when inner is nil); nil when there are none, not even one cut
// short.
func unpercent(b []byte, inner *view) *view {
	return decodeEscapes(b, inner, '%', func(dst, s []byte) ([]byte, int, int) {
		switch {
		case len(s) > 2 && isHex(s[1]) && isHex(s[2]):
			return append(dst, unhex(s[1])<<4|unhex(s[2])), 3, escOK
		case len(s) == 1 || len(s) == 2 && isHex(s[1]):
			return dst, 0, escCut
		}
		return dst, 0, escBad
	})
}

// unhex is the value of a hex digit.
func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
