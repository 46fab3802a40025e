package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strings"
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
