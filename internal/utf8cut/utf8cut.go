// Package utf8cut shortens text a peer chose, for notes, audit records
// and questions, at a character's start: a cut never leaves half a
// character (invalid UTF-8) behind. Every cut of text that a person or a
// JSON encoder will read goes through it; it counts bytes, not
// characters or columns, and does not escape or redact (redact first,
// then cut).
package utf8cut

import "unicode/utf8"

// Cut keeps at most n bytes of s, cut at a character's start.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Marked is Cut with "…" after it when s was cut.
func Marked(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Cut(s, n) + "…"
}
