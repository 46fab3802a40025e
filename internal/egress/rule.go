package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule is one entry of [network] hosts: connections to Host on Port.
type Rule struct {
	// Host is a lower-case name without a trailing dot, a wildcard
	// "*.suffix" (exactly one more label: "*.example.com" covers
	// "a.example.com", not "example.com" or "a.b.example.com"), or a
	// literal address (IP set).
	Host string
	IP   netip.Addr // valid for a literal-address rule
	Port uint16
	From string // file:line
}

// Wildcard reports whether r covers a family of names ("*.suffix").
func (r Rule) Wildcard() bool { return strings.HasPrefix(r.Host, "*.") }

// String is the rule as a profile writes it.
func (r Rule) String() string {
	if r.IP.Is6() {
		return "[" + r.Host + "]:" + strconv.Itoa(int(r.Port))
	}
	return r.Host + ":" + strconv.Itoa(int(r.Port))
}

// Covers reports whether r grants name (any case, a trailing dot
// ignored) on port.
func (r Rule) Covers(name string, port uint16) bool {
	if port != r.Port {
		return false
	}
	name = CanonicalName(name)
	if r.IP.IsValid() {
		a, err := netip.ParseAddr(name)
		return err == nil && a.Unmap() == r.IP
	}
	if r.Wildcard() {
		suffix := r.Host[1:] // ".example.com"
		label, ok := strings.CutSuffix(name, suffix)
		// The label becomes part of the name the relay resolves and
		// dials: it must be a label, not any text an SNI can carry.
		return ok && !strings.Contains(label, ".") && checkLabel(label) == nil
	}
	return name == r.Host
}

// CanonicalName is name lower-cased without a trailing dot, and an IPv6
// literal without its brackets.
func CanonicalName(name string) string {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		name = name[1 : len(name)-1]
	}
	return name
}

// ParseRule parses "host:port": a DNS name, "*.suffix" with at least two
// labels in the suffix, an IPv4 address, or a bracketed IPv6 address.
// The port is required: a rule never means every port.
func ParseRule(s, from string) (Rule, error) {
	host, portText, err := splitHostPort(s)
	if err != nil {
		return Rule{}, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return Rule{}, fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
	}
	r := Rule{Port: uint16(port), From: from}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		a, err := netip.ParseAddr(strings.TrimSuffix(inner, "]"))
		if err != nil || !a.Is6() || a.Zone() != "" {
			return Rule{}, fmt.Errorf("%q: brackets hold an IPv6 address without a zone, such as [2001:db8::1]:443", s)
		}
		r.IP = a.Unmap()
		r.Host = r.IP.String()
		return r, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		r.IP = a
		r.Host = a.String()
		return r, nil
	}
	name := CanonicalName(host)
	labels := strings.Split(name, ".")
	wild := labels[0] == "*"
	if wild {
		labels = labels[1:]
		if len(labels) < 2 {
			return Rule{}, fmt.Errorf("%q: a wildcard needs at least two labels after \"*.\" (such as *.example.com)", s)
		}
	}
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return Rule{}, fmt.Errorf("%q: %v", s, err)
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" {
		// Resolvers read "1.2.3" or "10.1" as an IPv4 address.
		return Rule{}, fmt.Errorf("%q: a name cannot end in an all-digit label; write an IPv4 address as four numbers", s)
	}
	if len(name) > 253 {
		return Rule{}, fmt.Errorf("%q: a host name is at most 253 characters", s)
	}
	r.Host = name
	return r, nil
}

func splitHostPort(s string) (host, port string, err error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", fmt.Errorf("%q: name the port, such as %q", s, s+":443")
	}
	host, port = s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") != strings.HasSuffix(host, "]") || strings.Count(host, ":") > 0 && !strings.HasPrefix(host, "[") {
		return "", "", fmt.Errorf("%q: write an IPv6 address in brackets, then the port: [::1]:5432", s)
	}
	if host == "" {
		return "", "", fmt.Errorf("%q: no host before the port", s)
	}
	return host, port, nil
}

// checkLabel accepts the labels of host names: letters, digits, hyphens
// (not first or last) and underscores, at most 63 characters.
func checkLabel(l string) error {
	switch {
	case l == "":
		return errors.New("an empty label (two dots, or a dot at the start)")
	case l == "*":
		return errors.New(`"*" may only be the first label`)
	case len(l) > 63:
		return errors.New("a label is at most 63 characters")
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("the label %q starts or ends with a hyphen", l)
	}
	for _, c := range []byte(l) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("the label %q has the character %q; names are letters, digits, hyphens and underscores", l, c)
		}
	}
	return nil
}
