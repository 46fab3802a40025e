package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// Redactor replaces resolved secret values with [redacted:NAME]: the
// value itself, its JSON-escaped forms (as JavaScript, Go and Python write
// them, and with "\/"), and its standard and URL-safe base64 forms.
//
// It is meant against accidental leaks (a tool that dumps its environment,
// a stack trace with a token in it). A server that means to leak a value
// can always transform it first; the cell, not redaction, stops that
// server from reaching anyone else.
type Redactor struct {
	// variants: every byte form a value takes in a frame or in text,
	// longest first.
	variants []variant
	// plain: the decoded forms (value and base64) to replace inside a
	// decoded JSON string, longest first.
	plain  []variant
	maxLen int
	// anchors: a run every form of a value contains verbatim; no anchor
	// in a text means no secret in it.
	anchors [][]byte
	// pivots: for each anchor, the offset of its rarest byte, which the
	// search looks for first (prose is full of an anchor's first letter).
	pivots []int
}

type variant struct {
	b    []byte
	repl []byte
}

// NewRedactor builds a redactor for secrets; nil when there are none.
func NewRedactor(secrets map[string]Secret) *Redactor {
	if len(secrets) == 0 {
		return nil
	}
	r := &Redactor{}
	seen := map[*[]variant]map[string]bool{&r.plain: {}, &r.variants: {}}
	add := func(list *[]variant, b, repl string) {
		if b == "" || seen[list][b] {
			return
		}
		seen[list][b] = true
		*list = append(*list, variant{[]byte(b), []byte(repl)})
	}
	names := make([]string, 0, len(secrets))
	for n := range secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := secrets[name].Value()
		repl := "[redacted:" + name + "]"
		plain := []string{v,
			base64.StdEncoding.EncodeToString([]byte(v)), base64.RawStdEncoding.EncodeToString([]byte(v)),
			base64.URLEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v))}
		for _, p := range plain {
			add(&r.plain, p, repl)
			for _, enc := range jsonForms(p) {
				add(&r.variants, enc, repl)
			}
		}
	}
	for _, v := range r.plain {
		a := anchor(string(v.b))
		if len(a) < 4 {
			// No usable run: every form of this value is its own anchor.
			for _, f := range jsonForms(string(v.b)) {
				r.anchors = append(r.anchors, []byte(f))
			}
			continue
		}
		if !slices.ContainsFunc(r.anchors, func(b []byte) bool { return string(b) == a }) {
			r.anchors = append(r.anchors, []byte(a))
		}
	}
	for _, a := range r.anchors {
		r.pivots = append(r.pivots, rarest(a))
	}
	for _, list := range [][]variant{r.variants, r.plain} {
		sort.SliceStable(list, func(i, j int) bool { return len(list[i].b) > len(list[j].b) })
	}
	for _, v := range r.variants {
		r.maxLen = max(r.maxLen, len(v.b))
	}
	return r
}

// jsonForms lists how s may appear inside a JSON string: as written by
// JavaScript (minimal escapes), Go (also <, >, & as \u003c…), Python
// (every non-ASCII character as \uXXXX), and with "/" as "\/".
func jsonForms(s string) []string {
	minimal := escape(s, false, false)
	forms := []string{s, minimal, escape(s, true, false), escape(s, false, true)}
	for _, f := range forms[1:] {
		if strings.Contains(f, "/") {
			forms = append(forms, strings.ReplaceAll(f, "/", `\/`))
		}
	}
	return forms
}

func escape(s string, html, ascii bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || html && (r == '<' || r == '>' || r == '&') || r == 0x2028 || r == 0x2029 && html:
			fmt.Fprintf(&b, `\u%04x`, r)
		case ascii && r >= utf8.RuneSelf:
			if r > 0xFFFF {
				r -= 0x10000
				fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Frame redacts a validated JSON frame: every string that holds a secret
// in any form is decoded, cleaned, and written again, so the frame stays
// valid JSON. A frame without a secret comes back as it was, unallocated.
func (r *Redactor) Frame(frame []byte) []byte {
	if r == nil || !r.contains(frame) {
		return frame
	}
	var out []byte
	last := 0
	for _, span := range stringSpans(frame) {
		tok := frame[span[0]:span[1]]
		if !r.contains(tok) {
			continue
		}
		s, ok := jsonrpc.String(tok)
		if !ok {
			continue
		}
		clean := r.replacePlain(s)
		if clean == s {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(frame)+64)
		}
		out = append(out, frame[last:span[0]]...)
		out = append(out, quote(clean)...)
		last = span[1]
	}
	if out == nil {
		return frame
	}
	return append(out, frame[last:]...)
}

// contains reports whether b may hold a secret in some form.
func (r *Redactor) contains(b []byte) bool {
	for k, a := range r.anchors {
		p := r.pivots[k]
		for i := 0; ; {
			j := bytes.IndexByte(b[i:], a[p])
			if j < 0 {
				break
			}
			at := i + j - p
			if at >= 0 && at+len(a) <= len(b) && bytes.Equal(b[at:at+len(a)], a) {
				return true
			}
			i += j + 1
		}
	}
	return false
}

// rarest picks the byte of a to search for: a digit, else a capital,
// else a rare letter, else the first.
func rarest(a []byte) int {
	rank := func(c byte) int {
		switch {
		case c >= '0' && c <= '9':
			return 0
		case c >= 'A' && c <= 'Z':
			return 1
		case strings.IndexByte("qzxjkvwyb", c) >= 0:
			return 2
		}
		return 3
	}
	best := 0
	for i, c := range a {
		if rank(c) < rank(a[best]) {
			best = i
		}
	}
	return best
}

// anchor is the longest run of ASCII letters and digits in s: no JSON
// encoder escapes those, and standard and URL-safe base64 share them.
func anchor(s string) string {
	best, start := "", -1
	for i := 0; i <= len(s); i++ {
		alnum := i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9')
		switch {
		case alnum && start < 0:
			start = i
		case !alnum && start >= 0:
			if i-start > len(best) {
				best = s[start:i]
			}
			start = -1
		}
	}
	return best
}

func (r *Redactor) replacePlain(s string) string {
	for _, v := range r.plain {
		s = strings.ReplaceAll(s, string(v.b), string(v.repl))
	}
	return s
}

// quote encodes s as a JSON string without HTML escaping.
func quote(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// stringSpans finds every string token (quotes included) of validated
// JSON.
func stringSpans(b []byte) [][2]int {
	var spans [][2]int
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		start := i
		for i++; i < len(b) && b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		spans = append(spans, [2]int{start, i + 1})
	}
	return spans
}

// Text redacts free text, such as the server's stderr.
func (r *Redactor) Text(b []byte) []byte {
	if r == nil || !r.contains(b) {
		return b
	}
	for _, v := range r.variants {
		b = bytes.ReplaceAll(b, v.b, v.repl)
	}
	return b
}

// String redacts a string (an audit record's fields).
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	return string(r.Text([]byte(s)))
}

// Writer redacts text written to w, line by line, so that a value split
// across two writes is still found. A line longer than 64 KiB is passed
// on in pieces that overlap by the longest form's length.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	return &lineWriter{r: r, w: w}
}

type lineWriter struct {
	r   *Redactor
	w   io.Writer
	buf []byte
}

const longLine = 64 << 10

func (lw *lineWriter) Write(p []byte) (int, error) {
	if lw.r == nil {
		return lw.w.Write(p)
	}
	lw.buf = append(lw.buf, p...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := lw.w.Write(lw.r.Text(append([]byte(nil), lw.buf[:i+1]...))); err != nil {
			return len(p), err
		}
		lw.buf = lw.buf[i+1:]
	}
	if len(lw.buf) > longLine {
		// Redact all of it, then hold back a tail that could be the start
		// of a value whose rest is still to come.
		red := lw.r.Text(append([]byte(nil), lw.buf...))
		cut := len(red) - (lw.r.maxLen - 1)
		lw.buf = append([]byte(nil), red[cut:]...)
		if _, err := lw.w.Write(red[:cut]); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// Close writes what is left.
func (lw *lineWriter) Close() error {
	if len(lw.buf) == 0 {
		return nil
	}
	_, err := lw.w.Write(lw.r.Text(lw.buf))
	lw.buf = nil
	return err
}
