package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// egressEnv points a test binary's relay at a test's own servers:
// "dns=127.0.0.1:PORT" resolves every name through that DNS server, and
// each "route=ADDR:PORT>127.0.0.1:PORT" dials the second address for the
// first; any other address is refused, so that a relay under test never
// reaches the internet. Only a test binary reads it.
const egressEnv = "MCPCELL_TEST_EGRESS"

// testSeams are the seams a test binary run as mcpcell takes from its
// environment.
func testSeams() seams {
	s := seams{off: unhardened(), noTrust: os.Getenv(noTrustEnv) == "1", written: swapWritten()}
	spec := os.Getenv(egressEnv)
	if spec == "" {
		return s
	}
	routes := map[string]string{}
	var dns string
	for _, f := range strings.Fields(spec) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "dns":
			dns = v
		case "route":
			from, to, _ := strings.Cut(v, ">")
			routes[from] = to
		default:
			fmt.Fprintf(os.Stderr, "mcpcell (test): bad %s field %q\n", egressEnv, f)
			os.Exit(2)
		}
	}
	if dns != "" {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, dns)
		}}
		s.resolve = func(ctx context.Context, name string) ([]netip.Addr, error) {
			return r.LookupNetIP(ctx, "ip", name)
		}
	}
	s.dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		to, ok := routes[address]
		if !ok {
			return nil, fmt.Errorf("the test network has no route to %s", address)
		}
		return (&net.Dialer{}).DialContext(ctx, network, to)
	}
	return s
}
