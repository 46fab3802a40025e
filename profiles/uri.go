package profiles

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// URIError says why mcpcell refuses a URI: it cannot be sure the server
// reads it the way the policy would.
type URIError struct {
	URI    string
	Reason string
}

func (e *URIError) Error() string { return fmt.Sprintf("URI %q %s", e.URI, e.Reason) }

// CanonicalURI is the form of uri that [resources] globs are matched
// against: the form the server reads. Only decisions see it; the frame
// goes on as the client sent it.
//
// A file: URI is read the way WHATWG URL parsers and Node's fileURLToPath
// read it: the scheme in lower case, the host (empty or localhost)
// dropped, every percent-escape decoded once, and . and .. segments
// resolved; the result is file:// and the decoded path, such as
// file:///a/b c. Refused, because servers read them differently: a host
// other than localhost, a relative path (file:x), an encoded / or \ or NUL,
// a backslash, an empty segment (//), a query or fragment (? and #, which
// fileURLToPath drops and others keep), a ; (Python's urlparse cuts the
// last segment there), a segment that starts like a Windows drive (C:,
// C|x), an invalid escape, a path that does not decode to UTF-8, and an
// escape that decodes to another escape (servers differ in how often
// they decode).
//
// Other schemes are read as WHATWG URL parsers read them (the TypeScript
// SDK looks a resource up by new URL(uri).href), in a form that every
// spelling WHATWG takes for the same URL shares: see otherURI. What WHATWG parsers and others (RFC 3986 parsers
// such as Go's net/url and Python's urlparse, resolvers such as
// inet_aton) read two ways is refused.
//
// Refused in every URI: control characters, a backslash, a space at
// either end (URL parsers drop them), a one-letter scheme (a Windows
// drive), and a string without a scheme.
func CanonicalURI(uri string) (string, error) {
	bad := func(reason string) (string, error) { return "", &URIError{URI: uri, Reason: reason} }
	if !utf8.ValidString(uri) {
		return bad("is not UTF-8")
	}
	for i := 0; i < len(uri); i++ {
		switch c := uri[i]; {
		case c < 0x20 || c == 0x7f:
			return bad("holds a control character, which URL parsers remove")
		case c == '\\':
			return bad(`holds a backslash, which URL parsers read as /`)
		}
	}
	if strings.HasPrefix(uri, " ") || strings.HasSuffix(uri, " ") {
		return bad("begins or ends with a space, which URL parsers remove")
	}
	scheme, rest, ok := cutScheme(uri)
	switch {
	case !ok:
		return bad("has no scheme")
	case len(scheme) == 1:
		return bad("has a one-letter scheme, which reads as a Windows drive")
	}
	scheme = strings.ToLower(scheme)
	if scheme == "file" {
		path, reason := filePath(rest)
		if reason != "" {
			return bad(reason)
		}
		return "file://" + path, nil
	}
	canon, reason := otherURI(scheme, rest)
	if reason != "" {
		return bad(reason)
	}
	return canon, nil
}

// defaultPorts are the special schemes of the URL standard (file: aside)
// and their default ports, which WHATWG parsers drop.
var defaultPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21"}

// otherURI is the canonical form of a URI of a scheme other than file:
// (rest follows "scheme:"), or why it is refused. The form:
//
//   - the scheme and the host in lower case; a port without leading zeros,
//     dropped when it is the scheme's default (https://h:0443/ is
//     https://h/); a special scheme's empty path is /;
//   - a URI without an authority whose path starts with / is written with
//     an empty one (db:/x is db:///x), as Go's net/url writes it;
//   - escapes of letters, digits, -._~ and of { } decoded (WHATWG encodes
//     { and } in paths; templates keep them raw), other escapes in upper
//     case; a space, " < > ^ ` |, and every non-ASCII character written
//     as escapes of its UTF-8 bytes (WHATWG encodes them, or some of them,
//     depending on the part and on the parser's version); a ' in the
//     query of a special scheme as %27.
//
// Refused: a special scheme without // (https:host is a host to WHATWG
// and a path to RFC 3986 parsers); a user name or password (@); a host
// that is not ASCII, holds a percent-escape, an xn-- label (IDNA), an
// empty label (a trailing dot), or a character hosts do not hold; a
// special scheme's host that reads as a number in another form than four
// decimal numbers (0x7f.1, 2130706433, 017.0.0.1: WHATWG and inet_aton
// rewrite them); an IPv6 address with a zone or an IPv4 part; a port that
// is not a number up to 65535; . and .. segments (also as %2e), which
// some servers resolve and others do not; an encoded / or \ or NUL; an
// invalid escape; a fragment (#), which some servers keep in the name
// they look up and others drop; an empty query (? and nothing after),
// which some parsers drop and others keep.
func otherURI(scheme, rest string) (canon, reason string) {
	if strings.Contains(rest, "#") {
		return "", "has a fragment (#), which some servers keep in the name they look up and others drop"
	}
	hier, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery && query == "" {
		return "", "has an empty query (a ? with nothing after it), which some parsers drop and others keep"
	}
	_, special := defaultPorts[scheme]
	var b strings.Builder
	b.WriteString(scheme + ":")
	path := hier
	switch {
	case strings.HasPrefix(hier, "//"):
		authority, p, found := strings.Cut(hier[2:], "/")
		if found {
			path = "/" + p
		} else {
			path = ""
		}
		host, reason := canonicalAuthority(scheme, authority)
		if reason != "" {
			return "", reason
		}
		b.WriteString("//" + host)
		if special && path == "" {
			path = "/"
		}
	case special:
		return "", fmt.Sprintf("has no // after %s: (WHATWG URL parsers read what follows as the host, others as a path)", scheme)
	case strings.HasPrefix(hier, "/"):
		b.WriteString("//")
	}
	path, reason = normalEscapes(path, false)
	if reason != "" {
		return "", reason
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return "", "holds a . or .. segment, which some servers resolve and others do not"
		}
	}
	b.WriteString(path)
	if hasQuery {
		query, reason = normalEscapes(query, special)
		if reason != "" {
			return "", reason
		}
		b.WriteString("?" + query)
	}
	return b.String(), ""
}

// cutScheme splits an RFC 3986 scheme from the rest of uri.
func cutScheme(uri string) (scheme, rest string, ok bool) {
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return uri[:i], uri[i+1:], true
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// filePath is the path a file: URI names (rest follows "file:"), decoded
// and with dot segments resolved as WHATWG URL parsers do; or why it is
// refused.
func filePath(rest string) (path, reason string) {
	if strings.ContainsAny(rest, "?#") {
		return "", "has a query or fragment (? or #), which fileURLToPath drops and other parsers keep"
	}
	if strings.Contains(rest, ";") {
		return "", "holds a ; (Python's urlparse cuts the last segment there)"
	}
	if strings.HasPrefix(rest, "//") {
		host, p, found := strings.Cut(rest[2:], "/")
		if host != "" && !strings.EqualFold(host, "localhost") {
			return "", fmt.Sprintf("names the host %q (only an empty host or localhost is this machine)", host)
		}
		if !found {
			return "", "has no path"
		}
		rest = "/" + p
	}
	if !strings.HasPrefix(rest, "/") {
		return "", "has a relative path (write file:///PATH)"
	}
	segs := strings.Split(rest[1:], "/")
	out := make([]string, 0, len(segs))
	for i, raw := range segs {
		last := i == len(segs)-1
		if raw == "" && !last {
			return "", "has an empty segment (//), which URL parsers and file systems resolve differently"
		}
		seg, reason := unescapeSegment(raw)
		if reason != "" {
			return "", reason
		}
		if isDriveLetter(seg) || isDriveLetter(raw) {
			return "", fmt.Sprintf("holds a segment that starts like a Windows drive (%q), which URL parsers treat apart", seg)
		}
		switch seg {
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		case ".":
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/"), ""
}

// isDriveLetter reports whether seg starts like a Windows drive: a letter
// and : or |. Node keeps a first segment such as C:x when a .. follows,
// so not only C: itself is refused.
func isDriveLetter(seg string) bool {
	return len(seg) >= 2 && ('a' <= seg[0]|0x20 && seg[0]|0x20 <= 'z') && (seg[1] == ':' || seg[1] == '|')
}

// unescapeSegment decodes the percent-escapes of one path segment of a
// file: URI, or says why it is refused.
func unescapeSegment(seg string) (string, string) {
	if !strings.Contains(seg, "%") {
		return seg, ""
	}
	b := make([]byte, 0, len(seg))
	for i := 0; i < len(seg); i++ {
		if seg[i] != '%' {
			b = append(b, seg[i])
			continue
		}
		c, ok := escaped(seg, i)
		if !ok {
			return "", "holds an invalid percent-escape"
		}
		switch c {
		case '/':
			return "", "holds an encoded / (%2F)"
		case '\\':
			return "", `holds an encoded \ (%5C)`
		case 0:
			return "", "holds an encoded NUL (%00)"
		}
		b = append(b, c)
		i += 2
	}
	s := string(b)
	if !utf8.ValidString(s) {
		return "", "decodes to a path that is not UTF-8"
	}
	for i := 0; i < len(s); i++ {
		if _, ok := escaped(s, i); ok && s[i] == '%' {
			return "", "is percent-encoded twice (servers differ in how often they decode)"
		}
	}
	return s, ""
}

// escaped decodes the escape %XX at s[i].
func escaped(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// normalEscapes writes a path or query in its canonical form: escapes of
// letters, digits, -._~ and { } decoded, other escapes in upper case; a
// space, " < > ^ ` | and non-ASCII characters as escapes (and ' too in
// the query of a special scheme, as WHATWG parsers write it). Or it says
// why s is refused.
func normalEscapes(s string, specialQuery bool) (string, string) {
	const hex = "0123456789ABCDEF"
	encode := func(c byte) bool {
		return c >= 0x80 || strings.IndexByte(" \"<>^`|", c) >= 0 || specialQuery && c == '\''
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || encode(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s, ""
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			if encode(s[i]) {
				b = append(b, '%', hex[s[i]>>4], hex[s[i]&15])
			} else {
				b = append(b, s[i])
			}
			continue
		}
		c, ok := escaped(s, i)
		switch {
		case !ok:
			return "", "holds an invalid percent-escape"
		case c == '/':
			return "", "holds an encoded / (%2F)"
		case c == '\\':
			return "", `holds an encoded \ (%5C)`
		case c == 0:
			return "", "holds an encoded NUL (%00)"
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '{' || c == '}':
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
		i += 2
	}
	return string(b), ""
}
