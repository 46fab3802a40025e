// Package egresstest holds the servers that tests of host egress talk
// to, all on 127.0.0.1: HTTPS and HTTP servers that count connections, a
// TCP listener that records whether anything connected, a DNS server that
// records every query, and a Network that maps the public addresses a
// test's names resolve to onto those servers, so that a relay under test
// never dials anything else.
//
//	dns := egresstest.NewDNS(t, map[string][]netip.Addr{"api.example.test": {pub}})
//	srv := egresstest.NewHTTPS(t, "api.example.test")
//	network := egresstest.NewNetwork(t)
//	network.Route(netip.AddrPortFrom(pub, 443), srv.Addr)
//	// egress.Config{Resolve: dns.Resolve, Dial: network.Dial, ...}
package egresstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Certificate is a self-signed certificate for names (DNS names or IP
// addresses) and the pool that trusts it.
func Certificate(t testing.TB, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "egresstest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, n := range names {
		if a, err := netip.ParseAddr(n); err == nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, a.AsSlice())
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// Server is an HTTP or HTTPS server on 127.0.0.1 that counts its
// connections and the requests it answers. GET /bytes/N answers N bytes;
// any other request "hello from HOST".
type Server struct {
	Addr netip.AddrPort
	// Pool trusts the HTTPS server's certificate; PEM is it in PEM, for
	// curl --cacert.
	Pool *x509.CertPool
	PEM  []byte

	srv   *httptest.Server
	mu    sync.Mutex
	conns int
	hosts []string
}

// NewHTTPS starts an HTTPS server whose certificate is for names.
func NewHTTPS(t testing.TB, names ...string) *Server {
	s := newServer(t)
	cert, pool := Certificate(t, names...)
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.srv.StartTLS()
	s.Pool = pool
	s.PEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	s.Addr = netip.MustParseAddrPort(s.srv.Listener.Addr().String())
	return s
}

// NewHTTP starts a plain HTTP server.
func NewHTTP(t testing.TB) *Server {
	s := newServer(t)
	s.srv.Start()
	s.Addr = netip.MustParseAddrPort(s.srv.Listener.Addr().String())
	return s
}

func newServer(t testing.TB) *Server {
	s := &Server{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hosts = append(s.hosts, r.Host)
		s.mu.Unlock()
		if n, ok := strings.CutPrefix(r.URL.Path, "/bytes/"); ok {
			size, err := strconv.Atoi(n)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Length", n)
			_, _ = io.CopyN(w, zeros{}, int64(size))
			return
		}
		fmt.Fprintf(w, "hello from %s", r.Host)
	}))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	t.Cleanup(s.srv.Close)
	return s
}

// Conns is how many connections the server has accepted.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Hosts are the Host headers of the requests it answered, in order.
func (s *Server) Hosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.hosts...)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Listener is a TCP listener on 127.0.0.1 that counts connections and
// echoes what each sends; with Greeting set it speaks first, as SMTP or
// MySQL servers do.
type Listener struct {
	Addr     netip.AddrPort
	Greeting []byte

	l     net.Listener
	mu    sync.Mutex
	conns int
	wg    sync.WaitGroup
}

// NewListener starts a Listener; greeting may be nil.
func NewListener(t testing.TB, greeting []byte) *Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Listener{Addr: netip.MustParseAddrPort(l.Addr().String()), Greeting: greeting, l: l}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				if _, err := c.Write(greeting); err != nil {
					return
				}
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.wg.Wait()
	})
	return s
}

// Conns is how many connections the listener has accepted.
func (s *Listener) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// DNS is a DNS server on 127.0.0.1 (UDP) that answers the names it is
// given with their addresses, every other name NXDOMAIN, and records
// every query it sees.
type DNS struct {
	Addr netip.AddrPort

	answers map[string][]netip.Addr
	mu      sync.Mutex
	queries []string
}

// NewDNS starts a DNS server answering answers (names without a
// trailing dot, any case).
func NewDNS(t testing.TB, answers map[string][]netip.Addr) *DNS {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &DNS{Addr: netip.MustParseAddrPort(pc.LocalAddr().String()), answers: map[string][]netip.Addr{}}
	for name, a := range answers {
		d.answers[strings.ToLower(name)+"."] = a
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := d.reply(buf[:n]); reply != nil {
				_, _ = pc.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return d
}

func (d *DNS) reply(b []byte) []byte {
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil || len(m.Questions) != 1 {
		return nil
	}
	q := m.Questions[0]
	name := strings.ToLower(q.Name.String())
	d.mu.Lock()
	d.queries = append(d.queries, q.Type.String()+" "+strings.TrimSuffix(name, "."))
	d.mu.Unlock()
	m.Header.Response, m.Header.RecursionAvailable = true, true
	m.Answers, m.Additionals, m.Authorities = nil, nil, nil
	addrs, ok := d.answers[name]
	if !ok {
		m.Header.RCode = dnsmessage.RCodeNameError
	}
	for _, a := range addrs {
		h := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: a.As4()}})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
		}
	}
	out, err := m.Pack()
	if err != nil {
		return nil
	}
	return out
}

// Queries are the queries seen so far, as "TYPE name" ("TypeA
// api.example.test").
func (d *DNS) Queries() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.queries...)
}

// Resolve looks name up through this server only (egress.Config.Resolve).
func (d *DNS) Resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, "udp", d.Addr.String())
	}}
	return r.LookupNetIP(ctx, "ip", name)
}

// Network maps the addresses a test's names resolve to onto servers on
// 127.0.0.1, and records what is dialled: its Dial (egress.Config.Dial)
// refuses every address it was not told of, so a test never reaches the
// internet, even through a bug.
type Network struct {
	mu     sync.Mutex
	routes map[netip.AddrPort]netip.AddrPort
	dials  []netip.AddrPort
}

// NewNetwork is a Network without routes.
func NewNetwork() *Network {
	return &Network{routes: map[netip.AddrPort]netip.AddrPort{}}
}

// Route makes a dial of from reach to.
func (n *Network) Route(from, to netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.routes[from] = to
}

// Dial connects to the server routed from address.
func (n *Network) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	from, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("egresstest: dial %s: an address, not a name, is dialled", address)
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	n.mu.Lock()
	n.dials = append(n.dials, from)
	to, ok := n.routes[from]
	n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("egresstest: dial %s: no route (tests reach only their own servers)", address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, to.String())
}

// Dials are the addresses dialled so far.
func (n *Network) Dials() []netip.AddrPort {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]netip.AddrPort(nil), n.dials...)
}

// Contains reports whether a DNS server's queries include name for any
// type.
func (d *DNS) Contains(name string) bool {
	for _, q := range d.Queries() {
		if _, n, _ := strings.Cut(q, " "); n == strings.ToLower(name) {
			return true
		}
	}
	return false
}
