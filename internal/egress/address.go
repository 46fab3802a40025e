package egress

import (
	"fmt"
	"net/netip"
)

// special are the ranges the relay never dials for a name: a granted
// public name that resolves into them would reach the user's machine, a
// private network or a cloud's metadata service. A rule reaches them only
// by naming the address itself, or a name /etc/hosts maps (localhost).
var special = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and 255.255.255.255, broadcast
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4
// address in their last 32 bits, which is checked in turn.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// sixToFour is 6to4: its addresses reach the IPv4 address in bits 16 to
// 47, which is checked in turn.
var sixToFour = netip.MustParsePrefix("2002::/16")

// refusedAddr says why the relay does not dial a for a name ("" when it
// may): an IPv4-mapped address is judged as the IPv4 address it is.
func refusedAddr(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	b := a.As16()
	switch {
	case nat64.Contains(a):
		if why := refusedAddr(netip.AddrFrom4([4]byte(b[12:]))); why != "" {
			return why + " (through NAT64)"
		}
		return ""
	case sixToFour.Contains(a):
		if why := refusedAddr(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
			return why + " (through 6to4)"
		}
		return ""
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.why
		}
	}
	return ""
}

// refusedFor says why the relay does not dial a for a name ("" when it
// may): a special range (refusedAddr), or an address that reaches this
// machine (local, LocalPrefixes), whatever its range: from mcpcell's
// side a connection there reaches every service the machine listens
// with, past any firewall in front of it.
func refusedFor(a netip.Addr, local []netip.Prefix) string {
	if why := refusedAddr(a); why != "" {
		return why
	}
	a = a.Unmap().WithZone("")
	for _, p := range local {
		if p.Contains(a) {
			if p.IsSingleIP() {
				return "an address of this machine"
			}
			return fmt.Sprintf("an address of this machine (its local route %s)", p)
		}
	}
	return ""
}
