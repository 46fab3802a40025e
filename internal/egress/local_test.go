package egress_test

import (
	"bufio"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/egress"
)

// anyIP is a range the tests' machine routes to itself without an
// interface address: `ip route add local 198.51.100.128/25 dev lo`.
var anyIP = netip.MustParsePrefix("198.51.100.128/25")

// A granted name that resolves into a range this machine routes to
// itself (AnyIP, a cloud agent's load-balancer addresses) is refused as
// one of its addresses, though no interface has it: from the relay it
// reaches whatever listens on 0.0.0.0 (R2-4). An address just outside
// the range is the control; routes that cannot be read refuse every
// name.
func TestLocalRouteIsThisMachine(t *testing.T) {
	addrs := map[string]netip.Addr{
		"first.example.test":   netip.MustParseAddr("198.51.100.128"),
		"last.example.test":    netip.MustParseAddr("198.51.100.255"),
		"mapped.example.test":  netip.MustParseAddr("::ffff:198.51.100.200"),
		"outside.example.test": netip.MustParseAddr("198.51.100.127"),
	}
	routes := func() ([]netip.Prefix, error) {
		return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), anyIP}, nil
	}
	for _, tc := range []struct {
		name   string
		routes func() ([]netip.Prefix, error)
		want   string // the refusal's reason; "" to be reached
	}{
		{"first.example.test", routes, "198.51.100.128: an address of this machine (its local route 198.51.100.128/25)"},
		{"last.example.test", routes, "an address of this machine (its local route 198.51.100.128/25)"},
		{"mapped.example.test", routes, "an address of this machine (its local route 198.51.100.128/25)"},
		{"outside.example.test", routes, ""},
		{"outside.example.test", func() ([]netip.Prefix, error) { return nil, errors.New("no netlink here") }, "no netlink here"},
	} {
		t.Run(tc.name+", "+tc.want, func(t *testing.T) {
			in := newInternet(t)
			for _, a := range addrs {
				in.net.Route(netip.AddrPortFrom(a.Unmap(), 5432), in.db.Addr)
			}
			c := newCell(t, in, []string{tc.name + ":5432"}, func(cfg *egress.Config) {
				cfg.Resolve = func(_ context.Context, name string) ([]netip.Addr, error) {
					if a, ok := addrs[name]; ok {
						return []netip.Addr{a}, nil
					}
					return nil, errors.New("no such name")
				}
				cfg.LocalPrefixes = tc.routes
			})
			conn, err := connect(c, tc.name+":5432")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			banner, _ := bufio.NewReader(conn).ReadString('\n')
			r, _ := find(c.close(), egress.KindConn, tc.name)
			if tc.want == "" {
				if banner != "220 db ready\r\n" || !r.Allowed || r.Addr != netip.AddrPortFrom(addrs[tc.name], 5432) {
					t.Errorf("got %q, record %+v; want the banner, allowed", banner, r)
				}
				return
			}
			if banner != "" || in.db.Conns() != 0 {
				t.Errorf("got %q, the server saw %d connections; want nothing", banner, in.db.Conns())
			}
			if r.Addr.IsValid() || !strings.Contains(r.Reason, tc.want) {
				t.Errorf("record %+v: want nothing dialled, reason %q", r, tc.want)
			}
		})
	}
}
