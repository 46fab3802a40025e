package egress

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// nlRoute is one RTM_NEWROUTE message as the kernel sends it in a dump:
// struct rtmsg, then RTA_TABLE, RTA_DST (unless dst is invalid, as in a
// default route), RTA_PREFSRC and RTA_OIF.
func nlRoute(typ, table uint8, dst netip.Prefix) []byte {
	family := uint8(syscall.AF_INET6)
	if dst.Addr().Is4() {
		family = syscall.AF_INET
	}
	msg := []byte{family, uint8(dst.Bits()), 0, 0, table, syscall.RTPROT_KERNEL, syscall.RT_SCOPE_HOST, typ, 0, 0, 0, 0}
	msg = nlAttr(msg, syscall.RTA_TABLE, binary.NativeEndian.AppendUint32(nil, uint32(table)))
	if dst.Bits() > 0 {
		msg = nlAttr(msg, syscall.RTA_DST, dst.Addr().AsSlice())
	}
	msg = nlAttr(msg, syscall.RTA_PREFSRC, dst.Addr().AsSlice())
	msg = nlAttr(msg, syscall.RTA_OIF, binary.NativeEndian.AppendUint32(nil, 1))
	return nlMsg(syscall.RTM_NEWROUTE, msg)
}

func nlAttr(b []byte, kind uint16, v []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(syscall.SizeofRtAttr+len(v)))
	b = binary.NativeEndian.AppendUint16(b, kind)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nlMsg(typ uint16, body []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(syscall.NLMSG_HDRLEN+len(body)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, syscall.NLM_F_MULTI)
	b = binary.NativeEndian.AppendUint32(b, 1) // seq
	b = binary.NativeEndian.AppendUint32(b, 4242)
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nlError is the kernel's answer of an error: struct nlmsgerr, whose
// error is the negative errno, and the request's header.
func nlError(errno syscall.Errno) []byte {
	neg := -int32(errno)
	return nlMsg(syscall.NLMSG_ERROR, binary.NativeEndian.AppendUint32(nil, uint32(neg)))
}

var nlDone = nlMsg(syscall.NLMSG_DONE, []byte{0, 0, 0, 0})

// The parser of the kernel's route dumps keeps the local routes (and
// IPv6 anycast ones), of every table, whatever their length, and no
// other: the data behind R2-4's fix.
func TestParseLocalRoutes(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name string
		dump [][]byte
		want []string // or "error: …"
	}{{
		name: "a local /24, AnyIP",
		dump: [][]byte{nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, p("203.0.113.0/24")), nlDone},
		want: []string{"203.0.113.0/24"},
	}, {
		name: "an interface's /32, and loopback's /8 and /32",
		dump: [][]byte{
			nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, p("127.0.0.0/8")),
			nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, p("127.0.0.1/32")),
			nlRoute(syscall.RTN_BROADCAST, syscall.RT_TABLE_LOCAL, p("127.255.255.255/32")),
			nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, p("192.0.2.2/32")),
			nlDone,
		},
		want: []string{"127.0.0.0/8", "127.0.0.1/32", "192.0.2.2/32"},
	}, {
		name: "unicast, broadcast, multicast and blackhole routes are not this machine",
		dump: [][]byte{
			nlRoute(syscall.RTN_UNICAST, syscall.RT_TABLE_MAIN, p("0.0.0.0/0")),
			nlRoute(syscall.RTN_UNICAST, syscall.RT_TABLE_MAIN, p("10.0.0.0/8")),
			nlRoute(syscall.RTN_BROADCAST, syscall.RT_TABLE_LOCAL, p("192.0.2.255/32")),
			nlRoute(syscall.RTN_MULTICAST, syscall.RT_TABLE_LOCAL, p("ff00::/8")),
			nlRoute(syscall.RTN_BLACKHOLE, syscall.RT_TABLE_MAIN, p("198.18.0.0/15")),
			nlDone,
		},
	}, {
		name: "IPv6: loopback, an interface's, a local /64, a subnet's anycast",
		dump: [][]byte{
			nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, p("::1/128")),
			nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, p("2001:db8:1::5/128")),
			nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_MAIN, p("2001:db8:2::/64")),
			nlRoute(syscall.RTN_ANYCAST, syscall.RT_TABLE_LOCAL, p("2001:db8:1::/128")),
			nlRoute(syscall.RTN_UNICAST, syscall.RT_TABLE_MAIN, p("2001:db8:1::/64")),
			nlDone,
		},
		want: []string{"::1/128", "2001:db8:1::5/128", "2001:db8:2::/64", "2001:db8:1::/128"},
	}, {
		name: "a local default in a table only marked packets use (TPROXY) is not this machine's",
		dump: [][]byte{nlRoute(syscall.RTN_LOCAL, 100, netip.PrefixFrom(netip.IPv4Unspecified(), 0)), nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_DEFAULT, p("198.51.100.0/24")), nlDone},
		want: []string{"198.51.100.0/24"},
	}, {
		name: "a destination's host bits are masked",
		dump: [][]byte{nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, netip.PrefixFrom(netip.MustParseAddr("203.0.113.9"), 24)), nlDone},
		want: []string{"203.0.113.0/24"},
	}, {
		name: "no end: a route may be missing",
		dump: [][]byte{nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, p("203.0.113.0/24"))},
		want: []string{"error: the dump of routes has no end"},
	}, {
		name: "the kernel's error",
		dump: [][]byte{nlError(syscall.EPERM)},
		want: []string{"error: operation not permitted"},
	}, {
		name: "a message cut short",
		dump: [][]byte{nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, p("203.0.113.0/24"))[:30]},
		want: []string{"error: a netlink message of 60 bytes in 30"},
	}, {
		name: "a destination of the wrong size",
		dump: [][]byte{nlMsg(syscall.RTM_NEWROUTE, nlAttr([]byte{syscall.AF_INET, 24, 0, 0, 254, 0, 0, syscall.RTN_LOCAL, 0, 0, 0, 0}, syscall.RTA_DST, make([]byte, 16))), nlDone},
		want: []string{"error: a route's destination of 16 bytes"},
	}, {
		name: "a prefix longer than the address",
		dump: [][]byte{nlMsg(syscall.RTM_NEWROUTE, []byte{syscall.AF_INET, 33, 0, 0, 254, 0, 0, syscall.RTN_LOCAL, 0, 0, 0, 0}), nlDone},
		want: []string{"error: a route to a /33"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLocalRoutes(slices.Concat(tc.dump...))
			var gotText []string
			for _, p := range got {
				gotText = append(gotText, p.String())
			}
			if err != nil {
				gotText = []string{"error: " + err.Error()}
			}
			if !slices.Equal(gotText, tc.want) {
				t.Errorf("got %q, want %q", gotText, tc.want)
			}
		})
	}
}

// FuzzParseLocalRoutes checks that the parser never panics, and gives
// masked prefixes or an error, never both.
func FuzzParseLocalRoutes(f *testing.F) {
	f.Add(slices.Concat(nlRoute(syscall.RTN_LOCAL, syscall.RT_TABLE_LOCAL, netip.MustParsePrefix("203.0.113.0/24")), nlDone))
	f.Add(slices.Concat(nlRoute(syscall.RTN_ANYCAST, syscall.RT_TABLE_LOCAL, netip.MustParsePrefix("2001:db8::/128")), nlDone))
	if dump, err := syscall.NetlinkRIB(syscall.RTM_GETROUTE, syscall.AF_INET6); err == nil {
		f.Add(dump)
	}
	f.Fuzz(func(t *testing.T, dump []byte) {
		got, err := parseLocalRoutes(dump)
		if err != nil && got != nil {
			t.Fatalf("prefixes %v with the error %v", got, err)
		}
		for _, p := range got {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("prefix %v", p)
			}
		}
	})
}

// The kernel's local routes on the machine the tests run on hold
// loopback's /8 and every interface address; where iproute2 is there,
// they are the local and anycast routes `ip route show table all` lists
// in the tables local, main and default.
func TestLocalPrefixesOfThisMachine(t *testing.T) {
	got, err := localPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("local prefixes: %v", got)
	if !slices.Contains(got, netip.MustParsePrefix("127.0.0.0/8")) {
		t.Error("no 127.0.0.0/8")
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ip := netip.MustParsePrefix(a.String()).Addr().WithZone("")
		if !slices.Contains(got, netip.PrefixFrom(ip, ip.BitLen())) {
			t.Errorf("no local route for the interface address %s", ip)
		}
	}

	if _, err := exec.LookPath("ip"); err != nil {
		t.Log("no iproute2 to compare with")
		return
	}
	var want []netip.Prefix
	for _, family := range []string{"-4", "-6"} {
		out, err := exec.Command("ip", "-j", family, "route", "show", "table", "all").Output()
		if err != nil {
			t.Fatalf("ip %s route: %v", family, err)
		}
		var routes []struct{ Type, Dst, Table string }
		if err := json.Unmarshal(out, &routes); err != nil {
			t.Fatalf("ip %s route: %v", family, err)
		}
		for _, r := range routes {
			if r.Type != "local" && r.Type != "anycast" || r.Table != "" && r.Table != "main" && r.Table != "local" && r.Table != "default" {
				continue
			}
			p, err := netip.ParsePrefix(r.Dst)
			if err != nil {
				a := netip.MustParseAddr(r.Dst)
				p = netip.PrefixFrom(a, a.BitLen())
			}
			if r.Dst == "default" {
				p = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
				if family == "-6" {
					p = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
				}
			}
			want = append(want, p)
		}
	}
	sortPrefixes := func(ps []netip.Prefix) []string {
		var s []string
		for _, p := range ps {
			s = append(s, p.String())
		}
		slices.Sort(s)
		return slices.Compact(s)
	}
	if g, w := sortPrefixes(got), sortPrefixes(want); !slices.Equal(g, w) {
		t.Errorf("got %s, want what ip lists: %s", strings.Join(g, " "), strings.Join(w, " "))
	}
}
