// Package leaktest is the attacker's reader for tests of redaction: it
// looks for a secret value in text in every form the standard library can
// undo, without sharing any code with the redactor it checks. When the
// redactor learns a new form, the form goes here too, written again from
// the standard library, so that a test can fail; only tests import it.
//
//	if how := leaktest.Find(clientOutput, value); how != "" {
//		t.Errorf("the value leaked: %s", how)
//	}
package leaktest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
)

// window is the shortest piece of a value that counts as a leak: a note
// cut short, or the half of a value split in two, gives away a piece.
const window = 8

// depth bounds how many decodings are stacked (a JSON string holding a
// percent-encoded base64 blob is three): as many as the redactor promises
// to undo, four levels of escapes, percent-escapes under them, and hex or
// base64 under those.
const depth = 6

var (
	jsonString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	escapes    = regexp.MustCompile(`\\u\{[0-9a-fA-F]{1,6}\}|\\U[0-9a-fA-F]{8}|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|\\["\\/'bfnrt]`)
	percent    = regexp.MustCompile(`%[0-9a-fA-F]{2}`)
	hexRun     = regexp.MustCompile(`[0-9a-fA-F]{16,}`)
	base64Run  = regexp.MustCompile(`[A-Za-z0-9+/_-]{11,}`)
)

// Find reports how text gives away value, or a piece of it window bytes
// long: "" when it does not.
func Find(text []byte, value string) string {
	return find(text, []byte(value), depth)
}

func find(text, value []byte, left int) string {
	w := min(window, len(value))
	for i := 0; i+w <= len(value); i++ {
		if at := bytes.Index(text, value[i:i+w]); at >= 0 {
			return fmt.Sprintf("bytes %d-%d of the value at %d", i, i+w, at)
		}
	}
	if left == 0 {
		return ""
	}
	try := func(what string, dec []byte) string {
		if how := find(dec, value, left-1); how != "" {
			return what + ": " + how
		}
		return ""
	}
	for _, m := range jsonString.FindAll(text, -1) {
		var s string
		if json.Unmarshal(m, &s) == nil && s != string(m[1:len(m)-1]) {
			if how := try("a JSON string", []byte(s)); how != "" {
				return how
			}
		}
	}
	if dec := escapes.ReplaceAllFunc(text, unescape); !bytes.Equal(dec, text) {
		if how := try("backslash escapes", dec); how != "" {
			return how
		}
	}
	if dec := percent.ReplaceAllFunc(text, func(m []byte) []byte { b, _ := hex.DecodeString(string(m[1:])); return b }); !bytes.Equal(dec, text) {
		if how := try("percent-escapes", dec); how != "" {
			return how
		}
		if how := try("percent-escapes with + for space", bytes.ReplaceAll(dec, []byte("+"), []byte(" "))); how != "" {
			return how
		}
	}
	for _, m := range hexRun.FindAll(text, -1) {
		for off := range 2 {
			s := m[off:]
			b, err := hex.DecodeString(string(s[:len(s)/2*2]))
			if err == nil {
				if how := try(fmt.Sprintf("hex (from digit %d)", off), b); how != "" {
					return how
				}
			}
		}
	}
	for _, m := range base64Run.FindAll(text, -1) {
		s := strings.NewReplacer("-", "+", "_", "/").Replace(string(m))
		for off := range 4 {
			t := s[off:]
			if len(t)%4 == 1 {
				t = t[:len(t)-1]
			}
			b, err := base64.RawStdEncoding.DecodeString(t)
			if err == nil {
				if how := try(fmt.Sprintf("base64 (from character %d)", off), b); how != "" {
					return how
				}
			}
		}
	}
	return ""
}

// unescape decodes one escape the way strconv and encoding/json read it.
func unescape(m []byte) []byte {
	s := string(m)
	switch {
	case strings.HasPrefix(s, `\u{`):
		n, _ := strconv.ParseUint(s[3:len(s)-1], 16, 32)
		return []byte(string(rune(n)))
	case strings.HasPrefix(s, `\u`) && len(s) == 12:
		hi, _ := strconv.ParseUint(s[2:6], 16, 16)
		lo, _ := strconv.ParseUint(s[8:12], 16, 16)
		return []byte(string(utf16.DecodeRune(rune(hi), rune(lo))))
	case strings.HasPrefix(s, `\u`), strings.HasPrefix(s, `\U`), strings.HasPrefix(s, `\x`):
		n, _ := strconv.ParseUint(s[2:], 16, 32)
		return []byte(string(rune(n)))
	}
	switch s[1] {
	case 'b':
		return []byte{'\b'}
	case 'f':
		return []byte{'\f'}
	case 'n':
		return []byte{'\n'}
	case 'r':
		return []byte{'\r'}
	case 't':
		return []byte{'\t'}
	}
	return []byte{s[1]}
}
