package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// egressEnv points a test binary's relay at a test's own servers:
// "dns=127.0.0.1:PORT" resolves every name through that DNS server, and
// each "route=ADDR:PORT>127.0.0.1:PORT" dials the second address for the
// first; any other address is refused, so that a relay under test never
// reaches the internet. Only a test binary reads it.
const egressEnv = "MCPCELL_TEST_EGRESS"

// anyBinaryEnv=1 lets a test binary run as mcpcell wrap a client's
// servers with its own path, which lies in a Go build folder; selfEnv is
// the path wrap writes as mcpcell's instead (a copy of the test binary
// named mcpcell, which runs the real CLI); tempDirsEnv (a PATH-like list)
// replaces the temporary and build folders wrap and setup refuse
// mcpcell's binary in (go-build folders stay refused).
const (
	anyBinaryEnv = "MCPCELL_TEST_ANY_BINARY"
	selfEnv      = "MCPCELL_TEST_SELF"
	tempDirsEnv  = "MCPCELL_TEST_TEMP_DIRS"
)

// testSeams are the seams a test binary run as mcpcell takes from its
// environment.
func testSeams() seams {
	s := seams{off: unhardened(), noTrust: os.Getenv(noTrustEnv) == "1", written: swapWritten(), anyBinary: os.Getenv(anyBinaryEnv) == "1", self: os.Getenv(selfEnv)}
	if dirs, ok := os.LookupEnv(tempDirsEnv); ok {
		s.tempDirs = append([]string{}, filepath.SplitList(dirs)...)
	}
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
