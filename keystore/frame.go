package keystore

import (
	"bytes"
	"slices"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// Frame redacts a validated JSON frame: every string, member names
// included, that holds a secret in any form is decoded, cleaned, and
// written again, so the frame stays valid JSON. A frame without a secret
// comes back as it was, the same slice.
func (r *Redactor) Frame(frame []byte) []byte {
	if r == nil {
		return frame
	}
	// marks: where a string may hold a form: an anchor, or what may hide
	// one (an escape of a character of an anchor, a backslash the string
	// itself holds, a percent-escape). A string without a mark holds none.
	var marks []int
	mark := func(at int) {
		if len(marks) < maxMarks {
			marks = append(marks, at)
		}
	}
	r.hits(frame, true, func(_, s, _ int) { mark(s) })
	for i := 0; i < len(frame); {
		j := bytes.IndexByte(frame[i:], '\\')
		if j < 0 || i+j+1 == len(frame) {
			break
		}
		at := i + j
		i = at + 2
		if c := frame[at+1]; c == '\\' || c == 'u' && r.hides(frame[at:]) {
			mark(at)
		}
	}
	hexOrEscape := func(c byte) bool { return isHex(c) || c == '\\' }
	for i := 0; i < len(frame); {
		j := bytes.IndexByte(frame[i:], '%')
		if j < 0 {
			break
		}
		at := i + j
		i = at + 1
		if at+2 < len(frame) && hexOrEscape(frame[at+1]) && hexOrEscape(frame[at+2]) {
			mark(at)
		}
	}
	if len(marks) == 0 && !r.always {
		return frame
	}
	// So many marks that keeping them costs more than reading every
	// string: read every string.
	every := r.always || len(marks) == maxMarks
	slices.Sort(marks)
	var out []byte
	last, m := 0, 0
	for i := 0; i < len(frame); {
		q := bytes.IndexByte(frame[i:], '"')
		if q < 0 {
			break
		}
		start := i + q
		end := jsontext.StringEnd(frame, start)
		if end < 0 {
			break
		}
		i = end + 1
		for m < len(marks) && marks[m] < start {
			m++
		}
		if !every {
			if m == len(marks) {
				break
			}
			if marks[m] > end {
				continue
			}
		}
		clean, ok := r.jsonString(frame[start : end+1])
		if !ok {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(frame)+64)
		}
		out = append(out, frame[last:start]...)
		out = append(out, clean...)
		last = end + 1
	}
	if out == nil {
		return frame
	}
	return append(out, frame[last:]...)
}

// hides reports whether the \u escape at the start of s may hide part of
// a form: a character of an anchor, or a backslash or percent sign that
// begins an escape of its own.
func (r *Redactor) hides(s []byte) bool {
	c, _, st := escapeAt(s)
	if st != escOK {
		return st == escCut || len(s) >= 6 && allHex(s[2:6]) // a lone surrogate, say
	}
	if c == '\\' || c == '%' {
		return true
	}
	var buf [utf8.UTFMax]byte
	for _, b := range buf[:utf8.EncodeRune(buf[:], c)] {
		if r.anchorByte[b] {
			return true
		}
	}
	return false
}

// maxMarks bounds the places Frame keeps where a string may hold a form.
const maxMarks = 4096

// jsonString redacts one string token (quotes included); ok is false when
// it holds no secret.
func (r *Redactor) jsonString(tok []byte) ([]byte, bool) {
	text, ok := jsontext.StringBytes(tok)
	if !ok { // not validated after all: decode what can be decoded
		// (searched raw, its outer level of escapes would stay undecoded)
		text = tok[1 : len(tok)-1]
		if v := unescape(text, nil); v != nil {
			text = v.dec
		}
	}
	spans, _ := r.find(text, false)
	if len(spans) == 0 {
		return nil, false
	}
	return jsontext.QuoteNoHTML(string(apply(text, spans))), true
}
