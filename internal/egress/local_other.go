//go:build !linux

package egress

import (
	"fmt"
	"net"
	"net/netip"
)

// localPrefixes are the addresses of this machine's interfaces, each a
// prefix of one address: the local routes of other kernels are not read.
func localPrefixes() ([]netip.Prefix, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing this machine's addresses: %w", err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			a := p.Addr().WithZone("")
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out, nil
}
