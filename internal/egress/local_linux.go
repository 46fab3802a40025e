package egress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// localPrefixes are the destinations of the kernel's local routes, IPv4
// and IPv6, in the tables the default rules use: the addresses a connection from this machine
// is delivered to itself at. They hold each interface's address, and the
// ranges routed to the machine without one (`ip route add local
// 203.0.113.0/24 dev lo`, AnyIP; cloud guest agents add such routes for
// load-balancer addresses), which the interfaces' addresses miss.
func localPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, family := range []int{syscall.AF_INET, syscall.AF_INET6} {
		dump, err := syscall.NetlinkRIB(syscall.RTM_GETROUTE, family)
		if err != nil {
			return nil, fmt.Errorf("reading this machine's local routes: %w", err)
		}
		p, err := parseLocalRoutes(dump)
		if err != nil {
			return nil, fmt.Errorf("reading this machine's local routes: %w", err)
		}
		out = append(out, p...)
	}
	return out, nil
}

// parseLocalRoutes reads a dump of routes (netlink messages, as
// syscall.NetlinkRIB gives them, in the host's byte order) to the
// destinations of its local and anycast ones: both are delivered to this
// machine. A dump without its end, or with an error, is an error: a
// route missed would be a local address dialled.
func parseLocalRoutes(dump []byte) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for len(dump) > 0 {
		if len(dump) < syscall.NLMSG_HDRLEN {
			return nil, errors.New("a netlink message cut short")
		}
		n := int(binary.NativeEndian.Uint32(dump))
		typ := binary.NativeEndian.Uint16(dump[4:])
		if n < syscall.NLMSG_HDRLEN || n > len(dump) {
			return nil, fmt.Errorf("a netlink message of %d bytes in %d", n, len(dump))
		}
		body := dump[syscall.NLMSG_HDRLEN:n]
		dump = dump[min(align4(n), len(dump)):]
		switch typ {
		case syscall.NLMSG_DONE:
			return out, nil
		case syscall.NLMSG_ERROR:
			if len(body) >= 4 {
				if errno := -int32(binary.NativeEndian.Uint32(body)); errno > 0 {
					return nil, syscall.Errno(errno)
				}
			}
			return nil, errors.New("an error from the kernel")
		case syscall.RTM_NEWROUTE:
			p, ok, err := localRoute(body)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, p)
			}
		}
	}
	return nil, errors.New("the dump of routes has no end")
}

// localRoute reads one route (struct rtmsg and its attributes) to its
// destination, when it is a local or anycast route of IPv4 or IPv6.
func localRoute(b []byte) (netip.Prefix, bool, error) {
	if len(b) < syscall.SizeofRtMsg {
		return netip.Prefix{}, false, fmt.Errorf("a route of %d bytes", len(b))
	}
	family, bits, table, typ := b[0], int(b[1]), uint32(b[4]), b[7] // rtm_family, rtm_dst_len, rtm_table, rtm_type
	if typ != syscall.RTN_LOCAL && typ != syscall.RTN_ANYCAST {
		return netip.Prefix{}, false, nil
	}
	var dst netip.Addr
	switch family {
	case syscall.AF_INET:
		dst = netip.IPv4Unspecified()
	case syscall.AF_INET6:
		dst = netip.IPv6Unspecified()
	default:
		return netip.Prefix{}, false, nil
	}
	if bits > dst.BitLen() {
		return netip.Prefix{}, false, fmt.Errorf("a route to a /%d", bits)
	}
	attrs := b[syscall.SizeofRtMsg:]
	for len(attrs) > 0 {
		if len(attrs) < syscall.SizeofRtAttr {
			return netip.Prefix{}, false, errors.New("a route attribute cut short")
		}
		n := int(binary.NativeEndian.Uint16(attrs))
		kind := binary.NativeEndian.Uint16(attrs[2:])
		if n < syscall.SizeofRtAttr || n > len(attrs) {
			return netip.Prefix{}, false, fmt.Errorf("a route attribute of %d bytes in %d", n, len(attrs))
		}
		if kind == syscall.RTA_TABLE && n-syscall.SizeofRtAttr == 4 {
			table = binary.NativeEndian.Uint32(attrs[syscall.SizeofRtAttr:])
		}
		if kind == syscall.RTA_DST {
			a, ok := netip.AddrFromSlice(attrs[syscall.SizeofRtAttr:n])
			if !ok || a.BitLen() != dst.BitLen() {
				return netip.Prefix{}, false, fmt.Errorf("a route's destination of %d bytes", n-syscall.SizeofRtAttr)
			}
			dst = a
		}
		attrs = attrs[min(align4(n), len(attrs)):]
	}
	// The tables an unmarked packet of this machine's is routed by (the
	// default rules: local, main, default). A local route in a table
	// that only marked packets reach (TPROXY's `local 0.0.0.0/0 dev lo
	// table 100`) does not take the relay's connections, and counted it
	// would make every address this machine's.
	if table != syscall.RT_TABLE_LOCAL && table != syscall.RT_TABLE_MAIN && table != syscall.RT_TABLE_DEFAULT {
		return netip.Prefix{}, false, nil
	}
	return netip.PrefixFrom(dst, bits).Masked(), true, nil
}

// align4 is n rounded up to the netlink alignment, 4 bytes.
func align4(n int) int { return (n + 3) &^ 3 }
