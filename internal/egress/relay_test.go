package egress_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/egress"
	"github.com/mcpcell/mcpcell/internal/egress/egresstest"
)

// internet is what the relay can reach in a test: names resolved by a
// test DNS server to public-looking addresses, which the Network routes
// to servers on 127.0.0.1. Nothing else can be dialled.
// selfAddr is the address the tests' relay takes for one of this
// machine's own (Config.LocalPrefixes): a public one, as a VPS has.
var selfAddr = netip.MustParseAddr("198.51.100.7")

type internet struct {
	dns     *egresstest.DNS
	net     *egresstest.Network
	pool    *x509.CertPool
	https   map[string]*egresstest.Server // by name, port 443
	http    map[string]*egresstest.Server // by name, port 80
	alt     *egresstest.Server            // api.example.test:8443
	evil    *egresstest.Server            // every address a name may not reach, port 443
	db      *egresstest.Listener          // 10.9.9.9:5432, speaks first
	addrOf  map[string]netip.Addr
	evilIPs map[string]string
}

func newInternet(t testing.TB) *internet {
	in := &internet{
		net:    egresstest.NewNetwork(),
		pool:   x509.NewCertPool(),
		https:  map[string]*egresstest.Server{},
		http:   map[string]*egresstest.Server{},
		addrOf: map[string]netip.Addr{},
		evilIPs: map[string]string{
			"loop.example.test":   "127.0.0.1",
			"priv.example.test":   "10.1.2.3",
			"cgnat.example.test":  "100.64.0.1",
			"meta.example.test":   "169.254.169.254",
			"meta6.example.test":  "fd00:ec2::254",
			"ula.example.test":    "fd12::1",
			"link6.example.test":  "fe80::1",
			"zero.example.test":   "0.0.0.0",
			"nat64.example.test":  "64:ff9b::a01:203",
			"mapped.example.test": "::ffff:10.1.2.3",
			"6to4.example.test":   "2002:7f00:1::1", // 127.0.0.1 inside
			"teredo.example.test": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
			"nat64l.example.test": "64:ff9b:1::a01:203",
			// This machine's own address (selfAddr), public as it may be.
			"self.example.test": selfAddr.String(),
		},
	}
	answers := map[string][]netip.Addr{}
	for i, name := range []string{"api.example.test", "other.example.test", "x.cdn.example.test", "a.b.cdn.example.test", "pub.example.test"} {
		a := netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)})
		answers[name], in.addrOf[name] = []netip.Addr{a}, a
		s := egresstest.NewHTTPS(t, name)
		in.https[name] = s
		in.pool.AppendCertsFromPEM(s.PEM)
		in.net.Route(netip.AddrPortFrom(a, 443), s.Addr)
		h := egresstest.NewHTTP(t)
		in.http[name] = h
		in.net.Route(netip.AddrPortFrom(a, 80), h.Addr)
	}
	in.alt = egresstest.NewHTTPS(t, "api.example.test")
	in.pool.AppendCertsFromPEM(in.alt.PEM)
	in.net.Route(netip.AddrPortFrom(in.addrOf["api.example.test"], 8443), in.alt.Addr)

	var names []string
	for name := range in.evilIPs {
		names = append(names, name)
	}
	in.evil = egresstest.NewHTTPS(t, append(names, "pub.example.test")...)
	in.pool.AppendCertsFromPEM(in.evil.PEM)
	for name, ip := range in.evilIPs {
		a := netip.MustParseAddr(ip)
		answers[name] = []netip.Addr{a}
		in.net.Route(netip.AddrPortFrom(a.Unmap(), 443), in.evil.Addr)
	}
	// pub.example.test is the control: a public address, same server.
	in.net.Route(netip.AddrPortFrom(in.addrOf["pub.example.test"], 443), in.evil.Addr)

	in.db = egresstest.NewListener(t, []byte("220 db ready\r\n"))
	in.net.Route(netip.MustParseAddrPort("10.9.9.9:5432"), in.db.Addr)
	in.net.Route(netip.MustParseAddrPort("203.0.113.1:5432"), in.db.Addr)
	in.dns = egresstest.NewDNS(t, answers)
	return in
}

// cell is a relay serving a plan on ordinary listeners on 127.0.0.1, in
// the plan's order, as the sandbox would hand them over.
type cell struct {
	t     testing.TB
	plan  *egress.Plan
	relay *egress.Relay
	at    []netip.AddrPort // where each plan socket really listens

	mu      sync.Mutex
	records []egress.Record
}

func newCell(t testing.TB, in *internet, ruleTexts []string, edit ...func(*egress.Config)) *cell {
	t.Helper()
	var rules []egress.Rule
	for i, s := range ruleTexts {
		r, err := egress.ParseRule(s, fmt.Sprintf("test.toml:%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	plan, err := egress.NewPlan(rules, []byte("nameserver 10.255.255.53\n"), []byte("127.0.0.1 localhost\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cell{t: t, plan: plan}
	var files []*os.File
	for _, s := range plan.Sockets {
		f, at := socket(t, s.UDP)
		files, c.at = append(files, f), append(c.at, at)
	}
	cfg := egress.Config{
		Plan:     plan,
		Sockets:  files,
		Resolve:  in.dns.Resolve,
		Dial:     in.net.Dial,
		Upstream: func(string, uint16) *url.URL { return nil },
		LocalPrefixes: func() ([]netip.Prefix, error) {
			return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.PrefixFrom(selfAddr, 32)}, nil
		},
		Record: func(r egress.Record) {
			c.mu.Lock()
			c.records = append(c.records, r)
			c.mu.Unlock()
		},
		SniffTimeout: 2 * time.Second,
	}
	for _, e := range edit {
		e(&cfg)
	}
	c.relay, err = egress.Serve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.relay.Close() })
	return c
}

// socket is an ordinary listener on 127.0.0.1 as an *os.File.
func socket(t testing.TB, udp bool) (*os.File, netip.AddrPort) {
	if udp {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		f, err := pc.(*net.UDPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		return f, netip.MustParseAddrPort(pc.LocalAddr().String())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	return f, netip.MustParseAddrPort(l.Addr().String())
}

// proxy is where the cell's HTTP proxy really listens.
func (c *cell) proxy() string {
	for i, s := range c.plan.Sockets {
		if s.Role == egress.RoleProxy {
			return c.at[i].String()
		}
	}
	c.t.Fatal("no proxy socket")
	return ""
}

// host is where the listener of the plan's host named name on port
// really listens; the first host when name is "".
func (c *cell) host(name string, port uint16) string {
	for i, s := range c.plan.Sockets {
		if s.Role == egress.RoleHost && (name == "" || c.plan.Hosts[s.Host].Name == name) && s.Addr.Port() == port {
			return c.at[i].String()
		}
	}
	c.t.Fatalf("no listener for %s:%d", name, port)
	return ""
}

func (c *cell) dns(udp bool) string {
	for i, s := range c.plan.Sockets {
		if s.Role == egress.RoleDNS && s.UDP == udp {
			return c.at[i].String()
		}
	}
	c.t.Fatal("no DNS socket")
	return ""
}

// close ends the relay and returns its records.
func (c *cell) close() []egress.Record {
	c.relay.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.records)
}

// viaProxy is a Go client whose every request goes to the cell's proxy.
func (c *cell) viaProxy(pool *x509.CertPool) *http.Client {
	u, _ := url.Parse("http://" + c.proxy())
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:             http.ProxyURL(u),
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		DisableKeepAlives: true,
	}}
}

func get(client *http.Client, u string) (string, error) {
	resp, err := client.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s: %s", resp.Status, b)
	}
	return string(b), err
}

// tlsGet speaks HTTPS over a TCP connection to addr with the SNI sni
// (none when ""), as a client that resolved the name to addr does.
func tlsGet(addr, sni string, pool *x509.CertPool) (string, error) {
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	return tlsGetOver(raw, sni, pool)
}

func tlsGetOver(raw net.Conn, sni string, pool *x509.CertPool) (string, error) {
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	conf := &tls.Config{ServerName: sni, RootCAs: pool}
	if sni == "" {
		conf.InsecureSkipVerify = true
	}
	tc := tls.Client(raw, conf)
	if err := tc.Handshake(); err != nil {
		return "", err
	}
	host := sni
	if host == "" {
		host = "x"
	}
	fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
	b, err := io.ReadAll(tc)
	if !strings.HasPrefix(string(b), "HTTP/1.1 200") {
		return string(b), fmt.Errorf("answer %q, %v", b, err)
	}
	return string(b), nil
}

// connect opens a CONNECT tunnel through the proxy.
func connect(c *cell, hostport string) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", c.proxy(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", hostport, hostport)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		conn.Close()
		return nil, fmt.Errorf("CONNECT %s: %s %s", hostport, resp.Status, b)
	}
	_ = conn.SetDeadline(time.Time{})
	return bufferedConn{conn, br}, nil
}

// bufferedConn reads what its reader buffered past a proxy's answer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func find(records []egress.Record, kind egress.Kind, host string) (egress.Record, bool) {
	for _, r := range records {
		if r.Kind == kind && r.Host == host {
			return r, true
		}
	}
	return egress.Record{}, false
}

func TestGranted(t *testing.T) {
	in := newInternet(t)
	rules := []string{"api.example.test:443", "api.example.test:80", "*.cdn.example.test:443", "10.9.9.9:5432"}
	for _, tc := range []struct {
		name   string
		way    egress.Way
		host   string
		get    func(c *cell) (string, error)
		server func() int
		want   string
	}{{
		name: "CONNECT, Go client", way: egress.WayProxy, host: "api.example.test",
		get:    func(c *cell) (string, error) { return get(c.viaProxy(in.pool), "https://api.example.test/") },
		server: in.https["api.example.test"].Conns, want: "hello from api.example.test",
	}, {
		name: "absolute form, Go client", way: egress.WayProxy, host: "api.example.test",
		get:    func(c *cell) (string, error) { return get(c.viaProxy(in.pool), "http://api.example.test/") },
		server: in.http["api.example.test"].Conns, want: "hello from api.example.test",
	}, {
		name: "CONNECT to a name a wildcard covers", way: egress.WayProxy, host: "x.cdn.example.test",
		get:    func(c *cell) (string, error) { return get(c.viaProxy(in.pool), "https://x.cdn.example.test/") },
		server: in.https["x.cdn.example.test"].Conns, want: "hello from x.cdn.example.test",
	}, {
		name: "transparent TLS", way: egress.WayTransparent, host: "api.example.test",
		get: func(c *cell) (string, error) {
			return tlsGet(c.host("api.example.test", 443), "api.example.test", in.pool)
		},
		server: in.https["api.example.test"].Conns, want: "hello from api.example.test",
	}, {
		name: "transparent TLS on a wildcard listener", way: egress.WayTransparent, host: "x.cdn.example.test",
		get: func(c *cell) (string, error) {
			return tlsGet(c.host("*.cdn.example.test", 443), "x.cdn.example.test", in.pool)
		},
		server: in.https["x.cdn.example.test"].Conns, want: "hello from x.cdn.example.test",
	}, {
		name: "transparent HTTP", way: egress.WayTransparent, host: "api.example.test",
		get: func(c *cell) (string, error) {
			client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", c.host("api.example.test", 80))
			}}}
			return get(client, "http://api.example.test/")
		},
		server: in.http["api.example.test"].Conns, want: "hello from api.example.test",
	}, {
		name: "a literal private address the rule names, server first", way: egress.WayTransparent, host: "10.9.9.9",
		get: func(c *cell) (string, error) {
			conn, err := net.Dial("tcp", c.host("10.9.9.9", 5432))
			if err != nil {
				return "", err
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(conn)
			greeting, err := br.ReadString('\n')
			if err != nil {
				return "", err
			}
			fmt.Fprint(conn, "ping\n")
			echo, err := br.ReadString('\n')
			return greeting + echo, err
		},
		server: in.db.Conns, want: "220 db ready\r\nping\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCell(t, in, rules)
			before := tc.server()
			got, err := tc.get(c)
			if err != nil || !strings.HasSuffix(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if tc.server() == before {
				t.Error("the server saw no connection")
			}
			r, ok := find(c.close(), egress.KindConn, tc.host)
			if !ok || !r.Allowed || r.Way != tc.way || r.Rule == "" || !strings.HasPrefix(r.From, "test.toml:") || !r.Addr.IsValid() || r.Up == 0 || r.Down == 0 || r.Duration <= 0 {
				t.Errorf("record %+v (found %v): want an allowed %s connection with its rule, address and byte counts", r, ok, tc.way)
			}
		})
	}
}

// transparentGet is a Go client that ignores proxies and reaches u on
// the listener of the plan's host named listener, port 80.
func transparentGet(listener, u string) func(c *cell) error {
	return func(c *cell) error {
		at := c.host(listener, 80)
		_, err := get(&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", at)
		}}}, u)
		return err
	}
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return string(out), err
}

func TestGrantedCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("needs curl")
	}
	in := newInternet(t)
	c := newCell(t, in, []string{"api.example.test:443"})
	ca := t.TempDir() + "/ca.pem"
	if err := os.WriteFile(ca, in.https["api.example.test"].PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(curl, "-sS", "--max-time", "10", "--proxy", "http://"+c.proxy(), "--cacert", ca, "https://api.example.test/")
	if err != nil || out != "hello from api.example.test" {
		t.Fatalf("curl: %q, %v", out, err)
	}
	out, err = run(curl, "-sS", "--max-time", "10", "--proxy", "http://"+c.proxy(), "--cacert", ca, "https://other.example.test/")
	if err == nil || in.https["other.example.test"].Conns() != 0 {
		t.Fatalf("curl to an ungranted name: %q, %v; other saw %d connections", out, err, in.https["other.example.test"].Conns())
	}
}

// attack is one attempt from inside the cell to reach what its rules do
// not grant. Each runs twice: under rules, where it must fail and the
// server that would have answered must see no connection, and under
// control (with controlTry when set), where the same way in reaches it.
type attack struct {
	name       string
	rules      []string
	try        func(c *cell) error
	control    []string
	controlTry func(c *cell) error
	server     func() int
	// quiet: nothing is refused, the attempt is just never carried out
	quiet bool
}

func TestRefused(t *testing.T) {
	in := newInternet(t)
	via := func(u string) func(c *cell) error {
		return func(c *cell) error { _, err := get(c.viaProxy(in.pool), u); return err }
	}
	// onListener dials the listener of the cell's first host on 443.
	onListener := func(sni string) func(c *cell) error {
		return func(c *cell) error { _, err := tlsGet(c.host("", 443), sni, in.pool); return err }
	}
	fronted := func(connectTo, sni string) func(c *cell) error {
		return func(c *cell) error {
			conn, err := connect(c, connectTo)
			if err != nil {
				return err
			}
			_, err = tlsGetOver(conn, sni, in.pool)
			return err
		}
	}
	literal := func(c *cell) error {
		conn, err := connect(c, "10.9.9.9:5432")
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = bufio.NewReader(conn).ReadString('\n')
		return err
	}
	attacks := []attack{{
		name: "CONNECT to an ungranted host", rules: []string{"api.example.test:443"},
		try: via("https://other.example.test/"), control: []string{"other.example.test:443"},
		server: in.https["other.example.test"].Conns,
	}, {
		name: "absolute form to an ungranted host", rules: []string{"api.example.test:80"},
		try: via("http://other.example.test/"), control: []string{"other.example.test:80"},
		server: in.http["other.example.test"].Conns,
	}, {
		name: "a granted name on another port", rules: []string{"api.example.test:443"},
		try: via("https://api.example.test:8443/"), control: []string{"api.example.test:8443"},
		server: in.alt.Conns,
	}, {
		name: "a literal address not granted", rules: []string{"api.example.test:5432"},
		try: literal, control: []string{"10.9.9.9:5432"},
		server: in.db.Conns,
	}, {
		name: "a wildcard listener, an SNI it does not cover", rules: []string{"*.cdn.example.test:443", "other.example.test:443"},
		try: onListener("other.example.test"), control: []string{"*.example.test:443"},
		server: in.https["other.example.test"].Conns,
	}, {
		name: "a wildcard listener, an SNI two labels down", rules: []string{"*.cdn.example.test:443"},
		try: onListener("a.b.cdn.example.test"), control: []string{"*.b.cdn.example.test:443"},
		server: in.https["a.b.cdn.example.test"].Conns,
	}, {
		name: "a name's listener, the SNI of another granted name", rules: []string{"api.example.test:443", "other.example.test:443"},
		try: onListener("other.example.test"), control: []string{"other.example.test:443"},
		server: in.https["other.example.test"].Conns,
	}, {
		name: "SNI other than the CONNECT host (fronting)", rules: []string{"api.example.test:443", "other.example.test:443"},
		try: fronted("api.example.test:443", "other.example.test"), controlTry: fronted("other.example.test:443", "other.example.test"),
		server: in.https["other.example.test"].Conns,
	}, {
		name: "no SNI on a name rule", rules: []string{"api.example.test:443"},
		try: onListener(""), control: []string{"203.0.113.1:443"},
		server: in.https["api.example.test"].Conns,
	}, {
		name: "a second request to another host on one proxied connection", rules: []string{"api.example.test:80", "other.example.test:80"},
		try: func(c *cell) error {
			conn, err := net.Dial("tcp", c.proxy())
			if err != nil {
				return err
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprint(conn, "GET http://api.example.test/ HTTP/1.1\r\nHost: api.example.test\r\n\r\nGET http://other.example.test/ HTTP/1.1\r\nHost: other.example.test\r\n\r\n")
			b, _ := io.ReadAll(conn)
			if !strings.Contains(string(b), "hello from api.example.test") {
				return fmt.Errorf("the first request failed: %q", b)
			}
			if strings.Contains(string(b), "other") {
				return nil
			}
			return errors.New("no second answer")
		},
		controlTry: via("http://other.example.test/"),
		server:     in.http["other.example.test"].Conns, quiet: true,
	}, {
		name: "a second request with another Host on a transparent connection", rules: []string{"api.example.test:80", "other.example.test:80"},
		try: func(c *cell) error {
			conn, err := net.Dial("tcp", c.host("api.example.test", 80))
			if err != nil {
				return err
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\nGET / HTTP/1.1\r\nHost: other.example.test\r\n\r\n")
			b, _ := io.ReadAll(conn)
			if strings.Contains(string(b), "hello from other") {
				return nil
			}
			return fmt.Errorf("no second answer: %q", b)
		},
		controlTry: transparentGet("other.example.test", "http://other.example.test/"),
		server:     in.http["other.example.test"].Conns, quiet: true,
	}, {
		name: "a Host header other than the listener's name", rules: []string{"api.example.test:80", "other.example.test:80"},
		try:        transparentGet("api.example.test", "http://other.example.test/"),
		controlTry: transparentGet("other.example.test", "http://other.example.test/"),
		server:     in.http["other.example.test"].Conns,
	}}
	for name := range in.evilIPs {
		attacks = append(attacks, attack{
			name: "a name resolving to " + in.evilIPs[name], rules: []string{name + ":443"},
			try: via("https://" + name + "/"), control: []string{"pub.example.test:443"}, controlTry: via("https://pub.example.test/"),
			server: in.evil.Conns,
		})
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			c := newCell(t, in, a.rules)
			before := a.server()
			if err := a.try(c); err == nil {
				t.Error("the attempt succeeded")
			}
			records := c.close()
			if got := a.server() - before; got != 0 {
				t.Errorf("the server saw %d connections", got)
			}
			refused := false
			for _, r := range records {
				refused = refused || r.Kind == egress.KindConn && !r.Allowed && r.Reason != ""
			}
			if !refused && !a.quiet {
				t.Errorf("no refusal recorded: %+v", records)
			}

			control, try := a.control, a.controlTry
			if control == nil {
				control = a.rules
			}
			if try == nil {
				try = a.try
			}
			c = newCell(t, in, control)
			before = a.server()
			if err := try(c); err != nil {
				t.Errorf("control: %v", err)
			}
			c.close()
			if a.server() == before {
				t.Error("control: the server saw no connection")
			}
		})
	}
}
