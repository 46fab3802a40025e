package egress

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Plan is the layout of a cell's network namespace for a set of rules:
// the address each host is given, the sockets to bind, the addresses to
// add to lo. It is a value computed once from the rules, /etc/resolv.conf
// and /etc/hosts, shown by check and served by the relay.
type Plan struct {
	// Rules are the rules, duplicates (same host and port) removed.
	Rules []Rule
	// Hosts are the distinct hosts of Rules, in the order first named.
	Hosts []Host
	// Proxy is the HTTP proxy's address: 127.0.0.1:3128, or the next
	// free port when a rule takes that one.
	Proxy netip.AddrPort
	// DNS are the stub's addresses: the nameservers of resolv.conf.
	DNS []netip.Addr
	// Addrs are the addresses to add to lo: those of DNS, Hosts and
	// literal rules outside 127.0.0.0/8 and ::1.
	Addrs []netip.Addr
	// Sockets are what the sandbox binds in the namespace, in this order
	// (sandbox.Egress.Listen); the relay takes them in the same order.
	Sockets []Socket
}

// Host is one host of the rules and what the cell's names resolve it to.
type Host struct {
	// Name is Rule.Host: a name, "*.suffix", or a literal address.
	Name string
	// Addrs are its addresses in the namespace: a literal rule's own, the
	// addresses /etc/hosts gives a name it maps, or one 127.77.x.y.
	Addrs []netip.Addr
	// Ports are the ports it has listeners on: its rules' ports and, for
	// a name, those of the wildcard rule that covers it, since the stub
	// gives the name this host's address.
	Ports []uint16
	// Mapped says /etc/hosts maps Name: the relay dials the addresses
	// it gives (loopback or private ones too) and never asks DNS.
	Mapped bool
}

// Literal reports whether the host is a literal address.
func (h Host) Literal() bool {
	_, err := netip.ParseAddr(h.Name)
	return err == nil
}

// Role is what a socket of the plan is for.
type Role uint8

const (
	RoleProxy Role = iota + 1 // the HTTP proxy (TCP)
	RoleDNS                   // the DNS stub (UDP or TCP)
	RoleHost                  // a host's transparent listener (TCP)
)

func (r Role) String() string {
	switch r {
	case RoleProxy:
		return "proxy"
	case RoleDNS:
		return "dns"
	case RoleHost:
		return "host"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// Socket is one socket of the plan.
type Socket struct {
	Addr netip.AddrPort
	UDP  bool
	Role Role
	Host int // index in Plan.Hosts, for RoleHost
}

// ProxyPort is where the proxy listens unless a rule takes it.
const ProxyPort = 3128

// firstFresh is where the addresses of names start: far from 127.0.0.1
// and from Ubuntu's 127.0.0.53, and skipped past anything else in use.
var firstFresh = netip.AddrFrom4([4]byte{127, 77, 0, 1})

// NewPlan lays out a cell's namespace for rules; resolvConf and hosts are
// the contents of /etc/resolv.conf and /etc/hosts, which the server's
// resolver reads in the namespace (the cell has no mount namespace).
func NewPlan(rules []Rule, resolvConf, hosts []byte) (*Plan, error) {
	p := &Plan{}
	if len(rules) == 0 {
		return nil, fmt.Errorf("planning the cell's network: no host rules")
	}
	type key struct {
		host string
		port uint16
	}
	seen := map[key]bool{}
	for _, r := range rules {
		if r.Host == "" || r.Port == 0 {
			return nil, fmt.Errorf("planning the cell's network: %s: an empty rule", r.From)
		}
		if r.Wildcard() && r.Port != 80 && r.Port != 443 {
			return nil, fmt.Errorf("planning the cell's network: %s: %s: a wildcard rule needs port 443 or 80, where the relay learns the name from TLS or the Host header; on port %d it cannot", r.From, r, r.Port)
		}
		if k := (key{r.Host, r.Port}); !seen[k] {
			seen[k] = true
			p.Rules = append(p.Rules, r)
		}
	}
	p.DNS = nameservers(resolvConf)
	mapped := hostsFile(hosts)

	used := map[netip.Addr]bool{netip.AddrFrom4([4]byte{127, 0, 0, 1}): true}
	for _, a := range p.DNS {
		used[a] = true
	}
	index := map[string]int{}
	for _, r := range p.Rules {
		if _, ok := index[r.Host]; ok {
			continue
		}
		h := Host{Name: r.Host}
		switch addrs, ok := mapped[r.Host]; {
		case r.IP.IsValid():
			h.Addrs = []netip.Addr{r.IP}
		case ok:
			h.Addrs, h.Mapped = addrs, true
		}
		for _, a := range h.Addrs {
			used[a] = true
		}
		index[r.Host] = len(p.Hosts)
		p.Hosts = append(p.Hosts, h)
	}
	next := firstFresh
	for i := range p.Hosts {
		if len(p.Hosts[i].Addrs) > 0 {
			continue
		}
		for used[next] {
			next = next.Next()
		}
		if !netip.MustParsePrefix("127.0.0.0/8").Contains(next) {
			return nil, fmt.Errorf("planning the cell's network: more hosts than addresses in 127.77.0.0-127.255.255.255")
		}
		used[next] = true
		p.Hosts[i].Addrs = []netip.Addr{next}
	}
	for _, r := range p.Rules {
		h := &p.Hosts[index[r.Host]]
		h.Ports = addPort(h.Ports, r.Port)
		if r.Wildcard() {
			for i := range p.Hosts {
				if o := &p.Hosts[i]; !o.Literal() && !strings.HasPrefix(o.Name, "*.") && r.Covers(o.Name, r.Port) {
					o.Ports = addPort(o.Ports, r.Port)
				}
			}
		}
	}

	// Sockets: DNS first (the resolver is asked before anything
	// connects), the hosts, then the proxy on a port no host takes.
	taken := map[netip.AddrPort]string{}
	for _, a := range p.DNS {
		at := netip.AddrPortFrom(a, 53)
		taken[at] = "the DNS stub"
		p.Sockets = append(p.Sockets, Socket{Addr: at, UDP: true, Role: RoleDNS}, Socket{Addr: at, Role: RoleDNS})
	}
	for i, h := range p.Hosts {
		for _, a := range h.Addrs {
			for _, port := range h.Ports {
				at := netip.AddrPortFrom(a, port)
				if other, ok := taken[at]; ok {
					return nil, fmt.Errorf("planning the cell's network: %s: %s:%d is given %s, which %s has already; keep one of them", fromOf(p.Rules, h.Name), h.Name, port, at, other)
				}
				taken[at] = fmt.Sprintf("%s:%d (%s)", h.Name, port, fromOf(p.Rules, h.Name))
				p.Sockets = append(p.Sockets, Socket{Addr: at, Role: RoleHost, Host: i})
			}
		}
	}
	p.Proxy = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ProxyPort)
	for taken[p.Proxy] != "" {
		p.Proxy = netip.AddrPortFrom(p.Proxy.Addr(), p.Proxy.Port()+1)
	}
	p.Sockets = append(p.Sockets, Socket{Addr: p.Proxy, Role: RoleProxy})

	if len(p.Sockets) > MaxSockets {
		return nil, fmt.Errorf("the rules need %d sockets in the cell's namespace (one per address and port, the proxy's, and the DNS stub's two per nameserver), more than the %d one hand-over to mcpcell carries; grant fewer names or ports", len(p.Sockets), MaxSockets)
	}
	for _, s := range p.Sockets {
		if a := s.Addr.Addr(); !onLo(a) && !slices.Contains(p.Addrs, a) {
			p.Addrs = append(p.Addrs, a)
		}
	}
	return p, nil
}

// MaxSockets bounds the sockets of a plan: the helper hands them to
// mcpcell in one message, which carries at most 253 descriptors
// (the kernel's SCM_MAX_FD).
const MaxSockets = 253

// Env is the proxy environment of the server: every name clients read
// (npm reads only https_proxy for https, curl all of them, Go not
// ALL_PROXY), with a literal address, never "localhost", which may
// resolve to ::1.
func (p *Plan) Env() []string {
	u := "http://" + p.Proxy.String()
	var env []string
	for _, k := range proxyVariables[:3] {
		env = append(env, k+"="+u, strings.ToLower(k)+"="+u)
	}
	return append(env, "NODE_USE_ENV_PROXY=1")
}

// proxyVariables are the variables that say which proxy a client uses:
// the cell sets the first three and NODE_USE_ENV_PROXY (Env), and
// NO_PROXY would exempt names from its proxy.
var proxyVariables = []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NODE_USE_ENV_PROXY", "NO_PROXY"}

// ProxyVariable reports whether name, in any case (clients read
// http_proxy as well as HTTP_PROXY), is one of the variables that say
// which proxy a client uses, which a cell with hosts sets itself.
func ProxyVariable(name string) bool {
	return slices.ContainsFunc(proxyVariables, func(v string) bool { return strings.EqualFold(v, name) })
}

// ConnectPorts are the TCP ports the server connects to in the
// namespace, sorted: the proxy's, the hosts', and 53 for DNS over TCP.
func (p *Plan) ConnectPorts() []uint16 {
	var ports []uint16
	for _, s := range p.Sockets {
		if !s.UDP {
			ports = addPort(ports, s.Addr.Port())
		}
	}
	return ports
}

// hostOf is the host the stub answers name with: the host of that name,
// else the wildcard that covers it; -1 when no rule covers name.
func (p *Plan) hostOf(name string) int {
	name = CanonicalName(name)
	wild := -1
	for i, h := range p.Hosts {
		if h.Name == name && !h.Literal() && !strings.HasPrefix(name, "*.") {
			return i
		}
		if wild < 0 && strings.HasPrefix(h.Name, "*.") && (Rule{Host: h.Name}).Covers(name, 0) {
			wild = i
		}
	}
	return wild
}

func fromOf(rules []Rule, host string) string {
	for _, r := range rules {
		if r.Host == host {
			return r.From
		}
	}
	return ""
}

func addPort(ports []uint16, port uint16) []uint16 {
	if i, found := slices.BinarySearch(ports, port); !found {
		ports = slices.Insert(ports, i, port)
	}
	return ports
}

// onLo reports whether lo has a as soon as it is up: 127.0.0.0/8 and ::1.
func onLo(a netip.Addr) bool {
	return a.Is4() && a.As4()[0] == 127 || a == netip.IPv6Loopback()
}

// nameservers are the addresses of resolv.conf's nameserver lines, as
// glibc reads them; none gives 127.0.0.1, glibc's default. Addresses with
// a zone are left out: their interface does not exist in the namespace.
func nameservers(resolvConf []byte) []netip.Addr {
	var out []netip.Addr
	for f := range fields(resolvConf) {
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil || a.Zone() != "" {
			continue
		}
		if a = a.Unmap(); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	return out
}

// hostsFile maps each lower-case name of an /etc/hosts to its addresses.
func hostsFile(hosts []byte) map[string][]netip.Addr {
	m := map[string][]netip.Addr{}
	for f := range fields(hosts) {
		a, err := netip.ParseAddr(f[0])
		if err != nil || a.Zone() != "" {
			continue
		}
		a = a.Unmap()
		for _, name := range f[1:] {
			name = CanonicalName(name)
			if !slices.Contains(m[name], a) {
				m[name] = append(m[name], a)
			}
		}
	}
	return m
}

// fields yields the fields of each line of a resolver file, comments (#
// or ;) removed, skipping empty lines.
func fields(b []byte) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, len(b)+1) // a long line is read whole, never cut
		for sc.Scan() {
			line := sc.Text()
			if i := strings.IndexAny(line, "#;"); i >= 0 {
				line = line[:i]
			}
			if f := strings.Fields(line); len(f) > 0 && !yield(f) {
				return
			}
		}
	}
}

// rule is the first rule covering name on port, exact names before
// wildcards so that the record names the most specific rule.
func (p *Plan) rule(name string, port uint16) (Rule, bool) {
	var wild *Rule
	for i, r := range p.Rules {
		if r.Covers(name, port) {
			if !r.Wildcard() {
				return r, true
			}
			if wild == nil {
				wild = &p.Rules[i]
			}
		}
	}
	if wild != nil {
		return *wild, true
	}
	return Rule{}, false
}
