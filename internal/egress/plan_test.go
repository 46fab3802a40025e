package egress

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func rules(t testing.TB, ss ...string) []Rule {
	t.Helper()
	var out []Rule
	for i, s := range ss {
		r, err := ParseRule(s, fmt.Sprintf("p.toml:%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// sockets renders a plan's sockets as "role addr[/udp]" for comparison.
func sockets(p *Plan) string {
	var s []string
	for _, k := range p.Sockets {
		x := k.Role.String() + " " + k.Addr.String()
		if k.UDP {
			x += "/udp"
		}
		if k.Role == RoleHost {
			x += " " + p.Hosts[k.Host].Name
		}
		s = append(s, x)
	}
	return strings.Join(s, ", ")
}

const thisHosts = "127.0.0.1 localhost\n127.0.0.1 runsc # comment\n::1 localhost ip6-localhost\n10.1.2.3 db.internal\n"

func TestNewPlan(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rules     []string
		resolv    string
		sockets   string
		addrs     string
		connect   []uint16
		hostAddrs map[string]string
	}{{
		name:    "names get fresh addresses, the stub the resolver's",
		rules:   []string{"api.github.com:443", "github.com:443", "api.github.com:443"},
		resolv:  "search example\nnameserver 10.255.255.53\n",
		sockets: "dns 10.255.255.53:53/udp, dns 10.255.255.53:53, host 127.77.0.1:443 api.github.com, host 127.77.0.2:443 github.com, proxy 127.0.0.1:3128",
		addrs:   "10.255.255.53",
		connect: []uint16{53, 443, 3128},
	}, {
		name:    "no nameserver means 127.0.0.1; IPv6 ones are kept, zones dropped",
		rules:   []string{"a.example:443"},
		resolv:  "# none\n",
		sockets: "dns 127.0.0.1:53/udp, dns 127.0.0.1:53, host 127.77.0.1:443 a.example, proxy 127.0.0.1:3128",
		connect: []uint16{53, 443, 3128},
	}, {
		name:    "IPv6 and loopback resolvers",
		rules:   []string{"a.example:443"},
		resolv:  "nameserver 127.0.0.53\nnameserver fd00::53\nnameserver fe80::1%eth0\n",
		sockets: "dns 127.0.0.53:53/udp, dns 127.0.0.53:53, dns [fd00::53]:53/udp, dns [fd00::53]:53, host 127.77.0.1:443 a.example, proxy 127.0.0.1:3128",
		addrs:   "fd00::53",
		connect: []uint16{53, 443, 3128},
	}, {
		name:    "hosts-mapped names and literal addresses; 3128 taken",
		rules:   []string{"localhost:3128", "db.internal:5432", "192.0.2.9:22", "[2001:db8::1]:443", "127.0.0.9:80"},
		resolv:  "nameserver 127.77.0.1\n",
		sockets: "dns 127.77.0.1:53/udp, dns 127.77.0.1:53, host 127.0.0.1:3128 localhost, host [::1]:3128 localhost, host 10.1.2.3:5432 db.internal, host 192.0.2.9:22 192.0.2.9, host [2001:db8::1]:443 2001:db8::1, host 127.0.0.9:80 127.0.0.9, proxy 127.0.0.1:3129",
		addrs:   "10.1.2.3 192.0.2.9 2001:db8::1",
		connect: []uint16{22, 53, 80, 443, 3128, 3129, 5432},
	}, {
		name:      "fresh addresses skip the stub's; a name takes the ports of its wildcard",
		rules:     []string{"*.cdn.example:443", "a.cdn.example:80", "*.cdn.example:80"},
		resolv:    "nameserver 127.77.0.1\n",
		sockets:   "dns 127.77.0.1:53/udp, dns 127.77.0.1:53, host 127.77.0.2:80 *.cdn.example, host 127.77.0.2:443 *.cdn.example, host 127.77.0.3:80 a.cdn.example, host 127.77.0.3:443 a.cdn.example, proxy 127.0.0.1:3128",
		connect:   []uint16{53, 80, 443, 3128},
		hostAddrs: map[string]string{"a.cdn.example": "127.77.0.3", "x.cdn.example": "127.77.0.2", "A.CDN.example.": "127.77.0.3", "b.a.cdn.example": ""},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(rules(t, tc.rules...), []byte(tc.resolv), []byte(thisHosts))
			if err != nil {
				t.Fatal(err)
			}
			if got := sockets(p); got != tc.sockets {
				t.Errorf("sockets:\n got %s\nwant %s", got, tc.sockets)
			}
			var addrs []string
			for _, a := range p.Addrs {
				addrs = append(addrs, a.String())
			}
			if got := strings.Join(addrs, " "); got != tc.addrs {
				t.Errorf("addrs: got %q, want %q", got, tc.addrs)
			}
			if got := p.ConnectPorts(); !slices.Equal(got, tc.connect) {
				t.Errorf("connect ports: got %v, want %v", got, tc.connect)
			}
			for name, want := range tc.hostAddrs {
				got := ""
				if i := p.hostOf(name); i >= 0 {
					got = p.Hosts[i].Addrs[0].String()
				}
				if got != want {
					t.Errorf("the stub gives %s %q, want %q", name, got, want)
				}
			}
			distinct := map[string]bool{}
			for _, r := range tc.rules {
				distinct[r] = true
			}
			if len(p.Rules) != len(distinct) {
				t.Errorf("rules: got %d, want duplicates removed: %v", len(p.Rules), p.Rules)
			}
		})
	}
}

func TestNewPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		rules []string
		err   string
	}{
		{[]string{"*.example.com:8443"}, "p.toml:1: *.example.com:8443: a wildcard rule needs port 443 or 80"},
		{[]string{"localhost:5432", "127.0.0.1:5432"}, "p.toml:2: 127.0.0.1:5432 is given 127.0.0.1:5432, which localhost:5432 (p.toml:1) has already"},
		{[]string{"10.255.255.53:53"}, "which the DNS stub has already"},
		{nil, "no host rules"},
		// 1 proxy + 2 DNS + 250 hosts = 253 fit one hand-over; 251 do not.
		{manyRules(251), "the rules need 254 sockets in the cell's namespace"},
	} {
		_, err := NewPlan(rules(t, tc.rules...), []byte("nameserver 10.255.255.53"), []byte(thisHosts))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("NewPlan(%v) = %v, want an error with %q", tc.rules, err, tc.err)
		}
	}
}

func manyRules(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("h%d.example.com:443", i))
	}
	return out
}

// As many sockets as one hand-over carries are planned (control of the
// error above).
func TestNewPlanMostSockets(t *testing.T) {
	p, err := NewPlan(rules(t, manyRules(250)...), []byte("nameserver 10.255.255.53"), []byte(thisHosts))
	if err != nil || len(p.Sockets) != MaxSockets {
		t.Fatalf("NewPlan(250 rules) = %v sockets, %v; want %d", len(p.Sockets), err, MaxSockets)
	}
}

func TestPlanEnv(t *testing.T) {
	p, err := NewPlan(rules(t, "localhost:3128"), nil, []byte(thisHosts))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"HTTP_PROXY=http://127.0.0.1:3129", "http_proxy=http://127.0.0.1:3129",
		"HTTPS_PROXY=http://127.0.0.1:3129", "https_proxy=http://127.0.0.1:3129",
		"ALL_PROXY=http://127.0.0.1:3129", "all_proxy=http://127.0.0.1:3129",
		"NODE_USE_ENV_PROXY=1",
	}
	if got := p.Env(); !slices.Equal(got, want) {
		t.Errorf("Env() = %q, want %q", got, want)
	}
	if p.Proxy != netip.MustParseAddrPort("127.0.0.1:3129") {
		t.Errorf("Proxy = %v", p.Proxy)
	}
}
