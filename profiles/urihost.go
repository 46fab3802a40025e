package profiles

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// canonicalAuthority is the canonical host[:port] of an authority, or
// why it is refused.
func canonicalAuthority(scheme, authority string) (string, string) {
	if strings.Contains(authority, "@") {
		return "", "holds a user name or password (@), which parsers split from the host differently"
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "has an unclosed [ in its host"
		}
		host, port = authority[:end+1], authority[end+1:]
		if port != "" && port[0] != ':' {
			return "", "has text after its IPv6 address"
		}
	} else if i := strings.IndexByte(authority, ':'); i >= 0 {
		host, port = authority[:i], authority[i:]
	}
	if port != "" {
		digits := port[1:]
		if strings.Trim(digits, "0123456789") != "" {
			return "", fmt.Sprintf("has the port %q, which is not a number", digits)
		}
		digits = strings.TrimLeft(digits, "0")
		if digits == "" && len(port) > 1 {
			digits = "0"
		}
		if len(digits) > 5 || len(digits) == 5 && digits > "65535" {
			return "", fmt.Sprintf("has the port %s, beyond 65535", port[1:])
		}
		port = ""
		if digits != "" && digits != defaultPorts[scheme] {
			port = ":" + digits
		}
	}
	_, special := defaultPorts[scheme]
	switch {
	case host == "":
		if special {
			return "", "has no host"
		}
		if len(authority) > 0 {
			return "", "has a port but no host"
		}
		return "", ""
	case host[0] == '[':
		h, reason := canonicalIPv6(host[1 : len(host)-1])
		return h + port, reason
	case strings.Contains(host, "%"):
		return "", "holds a percent-escape in its host, which WHATWG URL parsers decode and others keep"
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			return "", "has a host that is not ASCII (international names are punycode to some parsers and text to others)"
		}
	}
	host = strings.ToLower(host)
	chars := "abcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;="
	if special {
		chars = "abcdefghijklmnopqrstuvwxyz0123456789-._"
	}
	if strings.Trim(host, chars) != "" {
		return "", fmt.Sprintf("has the host %q, with a character hosts do not hold", host)
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		switch {
		case l == "":
			return "", fmt.Sprintf("has the host %q, with an empty label (a leading or trailing dot, or ..), which resolvers ignore and URL parsers keep", host)
		case strings.HasPrefix(l, "xn--"):
			return "", fmt.Sprintf("has the host %q, with an IDNA label (xn--), which parsers check and map differently", host)
		}
	}
	if special && isNumber(labels[len(labels)-1]) && !isDottedQuad(labels) {
		return "", fmt.Sprintf("has the host %q, a number in another form than four decimal numbers (URL parsers and resolvers rewrite it, such as 0x7f.1 to 127.0.0.1)", host)
	}
	return host + port, ""
}

// isNumber reports whether a host label reads as a number to WHATWG's
// IPv4 parser: decimal digits, or 0x and hexadecimal digits.
func isNumber(l string) bool {
	if len(l) >= 2 && l[0] == '0' && l[1]|0x20 == 'x' {
		return strings.Trim(l[2:], "0123456789abcdefABCDEF") == ""
	}
	return l != "" && strings.Trim(l, "0123456789") == ""
}

// isDottedQuad reports whether labels are an IPv4 address as parsers
// agree on it: four decimal numbers 0-255 without leading zeros.
func isDottedQuad(labels []string) bool {
	if len(labels) != 4 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 3 || strings.Trim(l, "0123456789") != "" || len(l) > 1 && l[0] == '0' || len(l) == 3 && l > "255" {
			return false
		}
	}
	return true
}

// canonicalIPv6 writes an IPv6 address (the text between [ and ]) as
// WHATWG URL parsers serialise it, or says why it is refused.
func canonicalIPv6(text string) (string, string) {
	if strings.Contains(text, ".") {
		return "", "has an IPv6 address with an IPv4 part, which parsers write differently"
	}
	a, err := netip.ParseAddr(text)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return "", fmt.Sprintf("has the host [%s], which is not an IPv6 address without a zone", text)
	}
	b := a.As16()
	var p [8]uint16
	for i := range p {
		p[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	// The first longest run of two or more zero pieces is written ::.
	compress, longest := -1, 1
	for i := 0; i < 8; {
		j := i
		for j < 8 && p[j] == 0 {
			j++
		}
		if j-i > longest {
			compress, longest = i, j-i
		}
		i = max(j, i+1)
	}
	var s strings.Builder
	s.WriteByte('[')
	for i := 0; i < 8; i++ {
		if i == compress {
			if i == 0 {
				s.WriteString("::")
			} else {
				s.WriteByte(':')
			}
			i += longest - 1
			continue
		}
		s.WriteString(strconv.FormatUint(uint64(p[i]), 16))
		if i < 7 {
			s.WriteByte(':')
		}
	}
	s.WriteByte(']')
	return s.String(), ""
}
