package profiles

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// argCheck is one argument's constraint.
type argCheck struct {
	arg     string
	spec    ArgRule // as written
	rule    string  // for the audit log: tools.args.KEY.ARG (file:line)
	within  []string
	match   *regexp.Regexp
	pattern string
	enum    []any // strings, bools, and numbers as decimals
	maxLen  int
}

// checkCall returns why the arguments of a call to tool break a
// constraint (and the constraint's rule), or "" when none is broken; bad
// is a constrained argument written in another spelling, which the call
// is refused for.
func checkCall(keys []argKey, name *lazyKey, args []byte, cwd string) (why, rule string, bad *spelling) {
	tool := name.name
	for i := range keys {
		k := &keys[i]
		if !k.re.match(name.get()) {
			continue
		}
		for j := range k.checks {
			c := &k.checks[j]
			raw, spelled := argValue(args, c.arg)
			if spelled != "" {
				return "", c.rule, &spelling{got: spelled, want: c.arg}
			}
			if why := c.check(tool, raw, cwd); why != "" {
				return why, c.rule, nil
			}
		}
	}
	return "", "", nil
}

// argValue is the value of the argument name in args, or nil when absent.
// Every constraint finds its argument here. An argument whose name
// differs from name only in case is the same argument to a server
// written with Go's encoding/json: spelled is its name then, and the
// call is refused.
func argValue(args []byte, name string) (value []byte, spelled string) {
	return jsontext.LookupFold(args, name)
}

// check returns why raw, the value of the argument of a call to tool,
// breaks the constraint, or "" when it holds or the argument is absent.
// An array is checked element by element.
func (c *argCheck) check(tool string, raw []byte, cwd string) string {
	if raw == nil {
		return ""
	}
	what := fmt.Sprintf("mcpcell: argument %q of tool %q", c.arg, tool)
	if jsontext.TypeOf(raw) != "array" {
		if why := c.value(raw, cwd, "a string or an array of strings"); why != "" {
			return what + " " + why
		}
		return ""
	}
	elems, err := jsontext.Elements(raw)
	if err != nil {
		return what + " cannot be read"
	}
	for i, e := range elems {
		if why := c.value(e, cwd, "a string"); why != "" {
			return fmt.Sprintf("%s (element %d) %s", what, i, why)
		}
	}
	return ""
}

// value checks one value; a non-string is a violation wherever a string
// constraint (within, match, max_len) applies, and must be wants.
func (c *argCheck) value(raw []byte, cwd, wants string) string {
	if c.enum != nil && !inEnum(raw, c.enum) {
		return "is not one of the allowed values (enum)"
	}
	if c.within == nil && c.match == nil && c.maxLen == 0 {
		return ""
	}
	s, ok := jsontext.String(raw)
	if !ok {
		return fmt.Sprintf("must be %s, not %s", wants, jsontext.TypeOf(raw))
	}
	if c.maxLen > 0 && utf8.RuneCountInString(s) > c.maxLen {
		return fmt.Sprintf("is longer than %d characters (max_len)", c.maxLen)
	}
	if c.match != nil && !c.match.MatchString(s) {
		return fmt.Sprintf("does not match %q (match)", c.pattern)
	}
	if c.within != nil {
		if why := outside(s, c.within, cwd); why != "" {
			return fmt.Sprintf("%s (within: %s)", why, strings.Join(c.within, ", "))
		}
	}
	return ""
}

// outside says why path is not inside one of roots, or "". Only an
// absolute path is read: a relative path is resolved by servers against
// folders of their own choosing (server-filesystem tries each of its
// allowed folders), not the working folder; and a URI such as
// file:///p/x is a URI to some servers and a relative path to others
// (server-filesystem writes other/file:/p/x).
func outside(path string, roots []string, cwd string) string {
	switch {
	case path == "":
		return "is empty"
	case strings.ContainsRune(path, 0):
		return "holds a NUL byte"
	case strings.HasPrefix(path, "~"):
		return "starts with ~, which servers expand to a home folder"
	case !filepath.IsAbs(path) && isURI(path):
		return "is a URI, not an absolute path: some servers read it as a URI, others (server-filesystem) as a relative path inside a folder of their own (give an absolute path)"
	case !filepath.IsAbs(path):
		return "is a relative path, which servers resolve against folders of their own (give an absolute path)"
	}
	// mcpcell sees the server's files: a link inside an allowed folder
	// to a folder outside it is followed, as the server's open will.
	// (A server that swaps a link after this check and before its open
	// wins the race; Landlock's grants still hold.)
	path, why := resolveWithin(path)
	if why != "" {
		return why
	}
	for _, r := range roots {
		if real, err := followPath(filepath.Clean(r)); err == nil {
			r = real
		}
		if path == r || strings.HasPrefix(path, r+string(filepath.Separator)) || r == string(filepath.Separator) {
			return ""
		}
	}
	return "is outside the allowed folders"
}

// isURI reports whether s starts with a scheme of two characters or more
// (one letter and a colon is a Windows drive).
func isURI(s string) bool {
	scheme, _, ok := cutScheme(s)
	return ok && len(scheme) > 1
}

// enumValues is an enum list as inEnum compares it: TOML numbers become
// enumNumbers (checkArgRule has refused the floats that cannot be one).
func enumValues(enum []any) []any {
	if enum == nil {
		return nil
	}
	out := make([]any, len(enum))
	for i, e := range enum {
		switch e := e.(type) {
		case int64:
			d, _ := parseDecimal(strconv.FormatInt(e, 10))
			f := float64(e)
			out[i] = enumNumber{d: d, intOnly: f >= 1<<63 || f < -1<<63 || int64(f) != e}
		case float64:
			d, _ := parseDecimal(strconv.FormatFloat(e, 'g', -1, 64))
			out[i] = enumNumber{d: d}
		default:
			out[i] = e
		}
	}
	return out
}

// enumNumber is a number of an enum list. intOnly marks a whole number
// that no 64-bit float holds: written with a point or an exponent
// (1.234567890123456789e18), it is a float to Python's json and to
// JavaScript, which then act on a neighbour.
type enumNumber struct {
	d       decimal
	intOnly bool
}

// inEnum reports whether the JSON value raw is one of enum's values. A
// number is compared as the exact decimal it writes: 1e3, 1000 and
// 1000.0 are one number, 1234567890123456789 and 1234567890123456800 are
// two (a server that reads integers exactly acts on either).
func inEnum(raw []byte, enum []any) bool {
	typ := jsontext.TypeOf(raw)
	var num decimal
	numOK, whole := false, false
	if typ == "number" {
		num, numOK = parseDecimal(string(raw))
		whole = !strings.ContainsAny(string(raw), ".eE")
	}
	for _, e := range enum {
		switch e := e.(type) {
		case string:
			if s, ok := jsontext.String(raw); ok && typ == "string" && s == e {
				return true
			}
		case bool:
			if string(raw) == strconv.FormatBool(e) {
				return true
			}
		case enumNumber:
			if numOK && num == e.d && (whole || !e.intOnly) {
				return true
			}
		}
	}
	return false
}

// decimal is a number written exactly: digits × 10^exp, with the digits
// free of leading and trailing zeros (zero is no digits, exponent 0 and
// not negative), so that two equal numbers are equal structs.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// maxExpDigits bounds the exponents parseDecimal reads: no enum value
// comes near 10^(10^15), and a number beyond it is compared with none.
const maxExpDigits = 15

// parseDecimal reads a JSON number (-12.5e3) exactly, in time linear in
// its length and without arithmetic on its magnitude: 1e999999999 costs
// what its text does. ok is false for text that is not a number and for
// a nonzero number whose exponent is beyond maxExpDigits digits.
func parseDecimal(s string) (d decimal, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	digitsAt := func(j int) int {
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		return j
	}
	intEnd := digitsAt(i)
	intPart := s[i:intEnd]
	i = intEnd
	frac := ""
	if i < len(s) && s[i] == '.' {
		end := digitsAt(i + 1)
		frac = s[i+1 : end]
		i = end
	}
	if intPart == "" && frac == "" {
		return decimal{}, false
	}
	var exp int64
	expNeg := false
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		end := digitsAt(i)
		e := strings.TrimLeft(s[i:end], "0")
		if end == i {
			return decimal{}, false
		}
		if len(e) > maxExpDigits {
			exp = -1 // out of range; decided below, once the digits are known
		} else if e != "" {
			exp, _ = strconv.ParseInt(e, 10, 64)
		}
		i = end
	}
	if i != len(s) {
		return decimal{}, false
	}
	mant := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(mant, "0")
	if trimmed == "" {
		return decimal{}, true // zero, -0 and 0e999999999999999999 among them
	}
	if exp < 0 {
		return decimal{}, false
	}
	if expNeg {
		exp = -exp
	}
	d.digits = trimmed
	d.exp = exp - int64(len(frac)) + int64(len(mant)-len(trimmed))
	return d, true
}

// argViolation is how a broken argument constraint is reported: a tool
// result with isError from 2025-11-25 on (and while no version is known),
// -32602 before.
func (p *Policy) argViolation(m *jsonrpc.Message, version, msg string) jsonrpc.Verdict {
	if v := p.versionOr(version); v != "" && v < V20251125 {
		return refuse(jsonrpc.CodeInvalidParams, "", "%s", msg)
	}
	return jsonrpc.Verdict{Action: jsonrpc.Answer, IsError: true, Result: toolError(msg)}
}

func toolError(msg string) []byte {
	return []byte(`{"content":[{"type":"text","text":` + string(jsontext.Quote(msg)) + `}],"isError":true}`)
}

// Shape lists argument names with their JSON types, never their values.
func argShape(args []byte) string {
	var room [128]byte
	b := room[:0]
	err := jsontext.EachMember(args, func(name, value []byte) bool {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, name...), ':'), jsontext.TypeOf(value)...)
		return true
	})
	if err != nil {
		return ""
	}
	return string(b)
}
