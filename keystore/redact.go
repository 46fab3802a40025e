package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// Redactor replaces resolved secret values with [redacted:NAME] in the
// forms programs write them in: the value itself (and each line of one
// that has several, 8 bytes or longer), its lower-, upper- or
// mixed-case hex, and its standard and URL-safe base64, padded or not,
// also inside a larger blob where the value starts at any byte (the
// characters that hold bits of the value go). These are looked for in
// the text as it is, after decoding backslash escapes (JSON's, and
// JavaScript's and Python's \xHH, \u{H…} and \UHHHHHHHH), after decoding
// percent-escapes (any bytes of the value encoded, either case of hex
// digit, + for a space), and after both, escapes first.
//
// It is meant against accidental leaks (a tool that dumps its environment,
// a stack trace with a token in it, a file that holds a credential) and
// the forms above. A server that means to leak a value can transform it
// in another way (split it in two, reverse it, compress it); the cell, not
// redaction, stops that server from reaching anyone but the client.
type Redactor struct {
	needles []needle
	// groups: the needles by the byte the search looks for first.
	groups []group
	// always: some form has no run of bytes that JSON leaves as they are,
	// so no string of a frame can be passed over unread.
	always bool
	// anchorByte: the bytes of the anchors, in both cases where a needle
	// folds case.
	anchorByte [256]bool
}

// A needle is one form of a value, as it stands in decoded text.
type needle struct {
	b    []byte
	repl []byte
	fold bool // hex: either case of each letter
	// base64: the characters next to a match that hold bits of the value
	// and of its neighbours, when there are any, go with it.
	left, right bool
	// b[a0:a1] is a run JSON writes as it is unless it escapes it as \u:
	// no quote, backslash, slash or control character.
	a0, a1 int
}

type group struct {
	c    byte
	pins []pin
}

// pin: the byte of a group stands at off in needle n; inAnchor says it is
// inside the needle's run, so a raw frame can be searched for it.
type pin struct {
	n, off   int
	inAnchor bool
}

// NewRedactor builds a redactor for secrets; nil when there are none.
func NewRedactor(secrets map[string]Secret) *Redactor {
	names := make([]string, 0, len(secrets))
	for n, s := range secrets {
		if s.Value() != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	r := &Redactor{}
	type form struct {
		b    string
		fold bool
	}
	seen := map[form]bool{}
	add := func(n needle) {
		key := form{string(n.b), n.fold}
		if n.fold {
			key.b = strings.ToLower(key.b)
		}
		if len(n.b) == 0 || seen[key] {
			return
		}
		seen[key] = true
		r.needles = append(r.needles, n)
	}
	for _, name := range names {
		v := []byte(secrets[name].Value())
		repl := []byte("[redacted:" + name + "]")
		add(needle{b: v, repl: repl})
		// A form (application/x-www-form-urlencoded) writes a space as +.
		if bytes.IndexByte(v, ' ') >= 0 {
			add(needle{b: bytes.ReplaceAll(v, []byte(" "), []byte("+")), repl: repl})
		}
		// Each line of a value of several lines (a key, a credential
		// file) on its own too: what prints text line by line (a note
		// per stdout line, a logger's prefix, a JSON array of lines)
		// parts the value at its line breaks.
		if bytes.IndexByte(v, '\n') >= 0 {
			for _, line := range bytes.Split(v, []byte("\n")) {
				if line = bytes.TrimRight(line, "\r"); len(line) >= MinLength {
					add(needle{b: line, repl: repl})
				}
			}
		}
		add(needle{b: []byte(hex.EncodeToString(v)), repl: repl, fold: true})
		// In a blob the value starts 0, 1 or 2 bytes into a 3-byte group;
		// for each, the characters that only its bits decide are fixed.
		for a := range 3 {
			blob := append(make([]byte, a), v...)
			first, last := (8*a+5)/6, 8*len(blob)/6
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				s := enc.EncodeToString(blob)
				add(needle{b: []byte(s[first:last]), repl: repl, left: 8*a%6 != 0, right: 8*len(blob)%6 != 0})
			}
		}
	}
	r.pin()
	return r
}

// rarity orders bytes by how often they come in the text mcpcell sees
// (prose, JSON, code, \u escapes, hex): rare capitals first, then rare
// lower-case letters, other capitals, digits but 1 and 0 (every \u00XX
// escape has two zeros, a number many ones), and so on. The search looks
// for a needle's rarest byte first, so a frame without a secret is read
// fast.
const rarity = "QZXJKVYWUqzjxGFBHPOMLNDRIAETSC98765432kvwy_" + "-+/bgfpmucldhrsnioate10"

// pin chooses, for each needle, the byte the search looks for first: one
// inside its anchor run, as rare in text as can be, and shared by as many
// needles as can be, since each distinct byte is one pass over the text.
func (r *Redactor) pin() {
	rank := func(c byte) int {
		if i := strings.IndexByte(rarity, c); i >= 0 {
			return i
		}
		return len(rarity)
	}
	var left []int
	for i := range r.needles {
		n := &r.needles[i]
		n.a0, n.a1 = anchor(n.b)
		if n.a0 == n.a1 {
			r.always = true
		}
		for _, c := range n.b[n.a0:n.a1] {
			r.anchorByte[c] = true
			if n.fold && c >= 'a' && c <= 'z' {
				r.anchorByte[c-'a'+'A'] = true
			}
		}
		left = append(left, i)
	}
	pins := map[byte][]pin{}
	// candidate: bytes of the anchor a needle can be found by; a folded
	// needle's letters have two cases, so only its digits qualify.
	candidate := func(n *needle, c byte) bool {
		return !n.fold || c >= '0' && c <= '9'
	}
	for len(left) > 0 {
		var count [256]int
		for _, i := range left {
			n := &r.needles[i]
			var once [256]bool
			for _, c := range n.b[n.a0:n.a1] {
				if candidate(n, c) && !once[c] {
					once[c] = true
					count[c]++
				}
			}
		}
		best := -1
		for c := range 256 {
			if count[c] > 0 && (best < 0 || rank(byte(c)) < rank(byte(best)) || rank(byte(c)) == rank(byte(best)) && count[c] > count[best]) {
				best = c
			}
		}
		if best < 0 {
			break
		}
		rest := left[:0]
		for _, i := range left {
			n := &r.needles[i]
			if k := bytes.IndexByte(n.b[n.a0:n.a1], byte(best)); k >= 0 && candidate(n, byte(best)) {
				pins[byte(best)] = append(pins[byte(best)], pin{n: i, off: n.a0 + k, inAnchor: true})
			} else {
				rest = append(rest, i)
			}
		}
		left = rest
	}
	// What is left: a folded needle without a digit in its run (both cases
	// of a letter), and needles without a run (their first byte).
	for _, i := range left {
		n := &r.needles[i]
		off, in := n.a0, n.a0 < n.a1
		c := n.b[off]
		pins[c] = append(pins[c], pin{n: i, off: off, inAnchor: in})
		if n.fold && c >= 'a' && c <= 'z' {
			pins[c-'a'+'A'] = append(pins[c-'a'+'A'], pin{n: i, off: off, inAnchor: in})
		}
	}
	for c, p := range pins {
		r.groups = append(r.groups, group{c: c, pins: p})
	}
	sort.Slice(r.groups, func(i, j int) bool { return r.groups[i].c < r.groups[j].c })
}

// anchor is the run of b that a frame holds verbatim wherever a decoded
// string holds b, unless the string escapes it as \u: the longest run of
// ASCII letters and digits when it has four or more, else the longest run
// without a quote, backslash, slash or control character (JSON may escape
// those another way).
func anchor(b []byte) (int, int) {
	longest := func(keep func(byte) bool) (int, int) {
		bs, be, start := 0, 0, -1
		for i := 0; i <= len(b); i++ {
			if i < len(b) && keep(b[i]) {
				if start < 0 {
					start = i
				}
				continue
			}
			if start >= 0 && i-start > be-bs {
				bs, be = start, i
			}
			start = -1
		}
		return bs, be
	}
	if s, e := longest(isAlnum); e-s >= 4 {
		return s, e
	}
	return longest(func(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' && c != '/' })
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isBase64(c byte) bool { return isAlnum(c) || c == '+' || c == '/' || c == '-' || c == '_' }

// equal compares a with the needle's bytes b, in either case of a letter
// when fold is set.
func equal(a, b []byte, fold bool) bool {
	if !fold {
		return bytes.Equal(a, b)
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i]|0x20 != b[i]|0x20 || a[i] != b[i] && !(a[i]|0x20 >= 'a' && a[i]|0x20 <= 'z') {
			return false
		}
	}
	return true
}

// hits calls f with each place in b where a needle stands. With anchors
// set it checks only each needle's anchor run (a raw frame, where the
// rest may be escaped), and skips needles that have none.
func (r *Redactor) hits(b []byte, anchors bool, f func(n, start, end int)) {
	for _, g := range r.groups {
		for i := 0; i < len(b); {
			j := bytes.IndexByte(b[i:], g.c)
			if j < 0 {
				break
			}
			at := i + j
			i = at + 1
			for _, p := range g.pins {
				n := &r.needles[p.n]
				s, e := at-p.off, at-p.off+len(n.b)
				if anchors {
					if !p.inAnchor {
						continue
					}
					s, e = s+n.a0, s+n.a1
				}
				if s < 0 || e > len(b) {
					continue
				}
				want := n.b
				if anchors {
					want = n.b[n.a0:n.a1]
				}
				if equal(b[s:e], want, n.fold) {
					f(p.n, s, e)
				}
			}
		}
	}
}

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
	if !ok { // not validated after all: search it as it stands
		text = tok[1 : len(tok)-1]
	}
	spans, _ := r.find(text, false)
	if len(spans) == 0 {
		return nil, false
	}
	return jsontext.QuoteNoHTML(string(apply(text, spans))), true
}

// A span of the text to replace.
type span struct {
	lo, hi int
	repl   []byte
}

// find lists the spans of b that hold a form of a value, in order and
// without overlaps. For a stream (stream set), hold is where the part
// begins that could be the start of a form whose rest is still to come;
// it is len(b) when there is none.
func (r *Redactor) find(b []byte, stream bool) (spans []span, hold int) {
	views := []*view{{dec: b, cut: len(b), pend: len(b)}}
	// Escapes inside escapes (a JSON document in a JSON string in the
	// frame) are decoded too, a few levels deep; percent-escapes at each.
	var inner *view
	for level := 0; level <= maxNesting; level++ {
		dec := b
		if inner != nil {
			dec = inner.dec
		}
		if bytes.IndexByte(dec, '%') >= 0 {
			if p := unpercent(dec, inner); p != nil {
				views = append(views, p)
			}
		}
		if level == maxNesting || bytes.IndexByte(dec, '\\') < 0 {
			break
		}
		if inner = unescape(dec, inner); inner == nil {
			break
		}
		views = append(views, inner)
	}
	pend := len(b)
	for _, v := range views {
		pend = min(pend, v.pend)
	}
	hold = len(b)
	if stream {
		hold = pend
	}
	for _, v := range views {
		r.hits(v.dec, false, func(k, s, e int) {
			n := &r.needles[k]
			if n.left && s > 0 && isBase64(v.dec[s-1]) {
				s--
			}
			if n.right && e < len(v.dec) && isBase64(v.dec[e]) {
				e++
			}
			lo, hi := v.raw(s, e)
			spans = append(spans, span{lo, hi, n.repl})
			// A form at the very end may go on (a longer form, the
			// base64 character after it): it waits for what follows.
			if stream && hi >= pend {
				hold = min(hold, lo)
			}
		})
		if !stream {
			continue
		}
		// The longest end of the decoded text that begins a form. A
		// base64 form takes the character before it along, so a last
		// base64 character waits too.
		done := v.before(pend)
		for k := range r.needles {
			n := &r.needles[k]
			if n.left && done > 0 && isBase64(v.dec[done-1]) {
				lo, _ := v.raw(done-1, done)
				hold = min(hold, lo)
			}
			for l := min(len(n.b)-1, done); l > 0; l-- {
				s := done - l
				if equal(v.dec[s:done], n.b[:l], n.fold) {
					if n.left && s > 0 {
						s--
					}
					lo, _ := v.raw(s, s+1)
					hold = min(hold, lo)
					break
				}
			}
		}
	}
	if stream {
		// The held part must begin where each view's decoding begins
		// anew, or a decoding of the held part alone would differ from
		// the stream's; and no span may cross it.
		for moved := true; moved; {
			moved = false
			for _, v := range views[1:] {
				if h := v.escapeStart(hold); h < hold {
					hold, moved = h, true
				}
			}
			for _, s := range spans {
				if s.lo < hold && hold < s.hi {
					hold, moved = s.lo, true
				}
			}
		}
	}
	return merge(spans), hold
}

// merge sorts spans and joins those that overlap; the longer one names
// the joined span.
func merge(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].lo != spans[j].lo {
			return spans[i].lo < spans[j].lo
		}
		return spans[i].hi > spans[j].hi
	})
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.lo >= last.hi {
			out = append(out, s)
			continue
		}
		if s.hi > last.hi {
			if s.hi-s.lo > last.hi-last.lo {
				last.repl = s.repl
			}
			last.hi = s.hi
		}
	}
	return out
}

// apply replaces each span of b.
func apply(b []byte, spans []span) []byte {
	out := make([]byte, 0, len(b))
	last := 0
	for _, s := range spans {
		out = append(out, b[last:s.lo]...)
		out = append(out, s.repl...)
		last = s.hi
	}
	return append(out, b[last:]...)
}

// A view is a text decoded one way: escapes become what they stand for;
// everything else stays. toks maps the decoded bytes back.
type view struct {
	dec   []byte
	toks  []tok
	inner *view // the view this one decodes further; nil: the text
	// cut: where dec stops being decided (an escape the end of the text
	// cuts short here or in a view below begins there); len(dec) when
	// all of it is. dec[cut:] is the source's rest, as it is.
	cut  int
	pend int // cut, in the text; len(text) when nothing is cut
}

// tok is n escapes in a row, each w bytes of the source (the text, or
// inner's decoding) decoded to d bytes: dec[dec+j*d:][:d] came from
// source[src+j*w:][:w]. A run of like escapes takes one tok, so a text
// made of escapes costs no more than its own size.
type tok struct{ dec, src, n, w, d int32 }

// escape records that the source's [at, at+w) decoded to the last d
// bytes of dec.
func (v *view) escape(at, w, d int) {
	if k := len(v.toks) - 1; k >= 0 {
		t := &v.toks[k]
		if int(t.w) == w && int(t.d) == d && int(t.src+t.n*t.w) == at && int(t.dec+t.n*t.d) == len(v.dec)-d {
			t.n++
			return
		}
	}
	if len(v.toks) == cap(v.toks) {
		// Doubling: append's growth for large slices (1.25x) would
		// allocate some five times the final size for a text of escapes.
		toks := make([]tok, len(v.toks), 2*cap(v.toks)+16)
		copy(toks, v.toks)
		v.toks = toks
	}
	v.toks = append(v.toks, tok{dec: int32(len(v.dec) - d), src: int32(at), n: 1, w: int32(w), d: int32(d)})
}

// src maps dec[i] to the bytes of the source it came from.
func (v *view) src(i int) (int, int) {
	k := sort.Search(len(v.toks), func(k int) bool { return int(v.toks[k].dec) > i }) - 1
	if k < 0 {
		return i, i + 1
	}
	t := v.toks[k]
	dec, src, n, w, d := int(t.dec), int(t.src), int(t.n), int(t.w), int(t.d)
	if i < dec+n*d {
		at := src + (i-dec)/d*w
		return at, at + w
	}
	at := src + n*w + i - (dec + n*d)
	return at, at + 1
}

// raw maps dec[s:e] to the text.
func (v *view) raw(s, e int) (int, int) {
	lo, _ := v.src(s)
	_, hi := v.src(e - 1)
	if v.inner != nil {
		return v.inner.raw(lo, hi)
	}
	return lo, hi
}

// before counts the decoded bytes that come entirely from text before at.
func (v *view) before(at int) int {
	return sort.Search(len(v.dec), func(i int) bool {
		_, hi := v.raw(i, i+1)
		return hi > at
	})
}

// escapeStart moves at back to the start of the escape of this view (in
// the text) that holds it, if any.
func (v *view) escapeStart(at int) int {
	text := func(lo, hi int) (int, int) {
		if v.inner != nil {
			return v.inner.raw(lo, hi)
		}
		return lo, hi
	}
	for _, t := range v.toks {
		src, n, w := int(t.src), int(t.n), int(t.w)
		lo, hi := text(src, src+n*w)
		if lo >= at {
			break
		}
		if at >= hi {
			continue
		}
		// The last escape of the run that starts at or before at.
		j := sort.Search(n, func(j int) bool {
			lo, _ := text(src+j*w, src+(j+1)*w)
			return lo > at
		}) - 1
		if lo, hi := text(src+j*w, src+(j+1)*w); lo < at && at < hi {
			return lo
		}
		return at
	}
	return at
}

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

// newView starts a view decoding b; end is where the decided part of b
// ends (all of the text; inner's cut).
func newView(b []byte, inner *view) (*view, int) {
	end := len(b)
	if inner != nil {
		end = inner.cut
	}
	return &view{inner: inner, dec: make([]byte, 0, len(b))}, end
}

// finish appends the source's undecided rest, b[at:], as it is, and sets
// where the view is cut: at own (an escape this view's decoding cut
// short, or -1) or the inner view's cut. It returns nil when the view
// decodes nothing and cuts nothing of its own: it would only repeat its
// source.
func (v *view) finish(b []byte, at, own int) *view {
	if len(v.toks) == 0 && own < 0 {
		return nil
	}
	v.cut = len(v.dec)
	v.dec = append(v.dec, b[at:]...)
	switch {
	case v.inner == nil:
		v.pend = at
	case own >= 0:
		v.pend, _ = v.inner.raw(own, own+1)
		v.pend = min(v.pend, v.inner.pend)
	default:
		v.pend = v.inner.pend
	}
	return v
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

// Text redacts free text, such as a note that quotes the server.
func (r *Redactor) Text(b []byte) []byte {
	if r == nil {
		return b
	}
	spans, _ := r.find(b, false)
	if len(spans) == 0 {
		return b
	}
	return apply(b, spans)
}

// String redacts a string (an audit record's fields).
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	return string(r.Text([]byte(s)))
}

// Writer redacts a stream, such as the server's stderr, on its way to w.
// Writes and lines are no boundaries: a value may arrive in pieces. The
// end of what has come that could begin a form of a value is held back
// until more comes or the stream is closed; anything else goes on at
// once. The writer is safe for concurrent use; each stream needs its
// own, or one stream's pieces could be flushed by another's text.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	return &streamWriter{r: r, w: w}
}

type streamWriter struct {
	mu     sync.Mutex
	r      *Redactor
	w      io.Writer
	held   []byte
	closed bool
	// read: how much of held the last search read. Each search reads
	// what is held anew, so once much is held (the start of a long form:
	// escapes of escapes of a long value) the next search waits for as
	// much again; a server that sends it a byte at a time would otherwise
	// have mcpcell read it once per byte.
	read int
	// searched counts the bytes searched, for tests.
	searched int
}

// rereadAfter is how much held text is searched again at every write.
const rereadAfter = 1 << 10

func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.r == nil {
		return sw.w.Write(p)
	}
	buf := append(sw.held, p...)
	if sw.closed {
		sw.held = nil
		_, err := sw.w.Write(sw.r.Text(buf))
		return len(p), err
	}
	if sw.read > rereadAfter && len(buf) < 2*sw.read {
		sw.held = buf
		return len(p), nil
	}
	sw.searched += len(buf)
	spans, hold := sw.r.find(buf, true)
	ready := spans[:0:0]
	for _, s := range spans {
		if s.hi <= hold {
			ready = append(ready, s)
		}
	}
	out := apply(buf[:hold], ready)
	sw.held = append([]byte(nil), buf[hold:]...)
	sw.read = len(sw.held)
	if len(out) == 0 {
		return len(p), nil
	}
	if _, err := sw.w.Write(out); err != nil {
		return len(p), err
	}
	return len(p), nil
}

// Close writes what is held back, redacted. Writes after it are redacted
// each on its own.
func (sw *streamWriter) Close() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.closed = true
	if sw.r == nil || len(sw.held) == 0 {
		return nil
	}
	_, err := sw.w.Write(sw.r.Text(sw.held))
	sw.held = nil
	return err
}
