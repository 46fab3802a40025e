package egress

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in, host, err string
		ip            string
		port          uint16
	}{
		{in: "api.github.com:443", host: "api.github.com", port: 443},
		{in: "API.GitHub.com.:443", host: "api.github.com", port: 443},
		{in: "*.githubusercontent.com:443", host: "*.githubusercontent.com", port: 443},
		{in: "10.0.0.5:5432", host: "10.0.0.5", ip: "10.0.0.5", port: 5432},
		{in: "[2001:db8::1]:443", host: "2001:db8::1", ip: "2001:db8::1", port: 443},
		{in: "[::ffff:10.0.0.5]:80", host: "10.0.0.5", ip: "10.0.0.5", port: 80},
		{in: "localhost:5432", host: "localhost", port: 5432},
		{in: "api.github.com", err: "name the port"},
		{in: "api.github.com:0", err: "from 1 to 65535"},
		{in: "api.github.com:65536", err: "from 1 to 65535"},
		{in: "api.github.com:https", err: "from 1 to 65535"},
		{in: ":443", err: "no host"},
		{in: "::1:443", err: "in brackets"},
		{in: "[::1:443", err: "in brackets"},
		{in: "[10.0.0.5]:443", err: "brackets hold an IPv6"},
		{in: "[example.com]:443", err: "brackets hold an IPv6"},
		{in: "[[::1]]:443", err: "brackets hold an IPv6"},
		{in: "[fe80::1%eth0]:443", err: "without a zone"},
		{in: "*.com:443", err: "at least two labels"},
		{in: "a.*.example.com:443", err: `"*" may only be the first label`},
		{in: "a..example.com:443", err: "empty label"},
		{in: "-a.example.com:443", err: "hyphen"},
		{in: "a b.example.com:443", err: "character"},
		{in: "1.2.3:443", err: "all-digit label"},
		{in: "example.123:443", err: "all-digit label"},
		{in: strings.Repeat("a", 64) + ".com:443", err: "63 characters"},
		{in: strings.Repeat("a.", 127) + "com:443", err: "253 characters"},
	} {
		r, err := ParseRule(tc.in, "p.toml:1")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRule(%q) = %+v, %v; want an error with %q", tc.in, r, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.in, err)
			continue
		}
		var ip netip.Addr
		if tc.ip != "" {
			ip = netip.MustParseAddr(tc.ip)
		}
		if r.Host != tc.host || r.Port != tc.port || r.IP != ip || r.From != "p.toml:1" {
			t.Errorf("ParseRule(%q) = %+v; want host %q ip %v port %d", tc.in, r, tc.host, ip, tc.port)
		}
	}
}

func TestCovers(t *testing.T) {
	rule := func(s string) Rule {
		r, err := ParseRule(s, "")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		rule, name string
		port       uint16
		want       bool
	}{
		{"api.github.com:443", "api.github.com", 443, true},
		{"api.github.com:443", "API.GITHUB.COM.", 443, true},
		{"api.github.com:443", "api.github.com", 80, false},
		{"api.github.com:443", "github.com", 443, false},
		{"api.github.com:443", "x.api.github.com", 443, false},
		{"*.example.com:443", "a.example.com", 443, true},
		{"*.example.com:443", "A.Example.COM.", 443, true},
		{"*.example.com:443", "example.com", 443, false},
		{"*.example.com:443", "a.b.example.com", 443, false},
		{"*.example.com:443", ".example.com", 443, false},
		{"*.example.com:443", "a/b.example.com", 443, false},
		{"*.example.com:443", "a.example.com", 80, false},
		{"*.example.com:443", "aexample.com", 443, false},
		{"10.0.0.5:5432", "10.0.0.5", 5432, true},
		{"10.0.0.5:5432", "::ffff:10.0.0.5", 5432, true},
		{"10.0.0.5:5432", "10.0.0.6", 5432, false},
		{"[2001:db8::1]:443", "[2001:DB8::1]", 443, true},
		{"[2001:db8::1]:443", "2001:db8::2", 443, false},
	} {
		if got := rule(tc.rule).Covers(tc.name, tc.port); got != tc.want {
			t.Errorf("%s covers %s:%d = %v, want %v", tc.rule, tc.name, tc.port, got, tc.want)
		}
	}
}

// FuzzParseRule checks that a rule reads back as itself from String and
// covers its own host, so that what check shows is what the relay grants.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"api.github.com:443", "*.githubusercontent.com:443", "10.0.0.5:5432", "[2001:db8::1]:443", "[::ffff:1.2.3.4]:80", "localhost:1", "a_b.c-d.e:65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s, "f")
		if err != nil {
			return
		}
		again, err := ParseRule(r.String(), "f")
		if err != nil || again != r {
			t.Fatalf("ParseRule(%q) = %+v; its String %q reads back as %+v, %v", s, r, r.String(), again, err)
		}
		if r.Port == 0 || r.Host == "" || r.Host != strings.ToLower(r.Host) {
			t.Fatalf("ParseRule(%q) = %+v", s, r)
		}
		if !r.Wildcard() && !r.Covers(r.Host, r.Port) {
			t.Fatalf("%+v does not cover its own host", r)
		}
		if r.Wildcard() && !r.Covers("x"+r.Host[1:], r.Port) {
			t.Fatalf("%+v does not cover x%s", r, r.Host[1:])
		}
		if r.IP.IsValid() && (r.IP.Zone() != "" || r.IP.Is4In6()) {
			t.Fatalf("%+v: the address is not canonical", r)
		}
	})
}
