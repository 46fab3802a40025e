package egress_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/egress"
)

// R2-4 as the review found it, in the kernel: in a network namespace
// with `ip route add local 203.0.113.0/24 dev lo` (and no address in
// the range), a service on 0.0.0.0 answers at every address of the
// range. The relay, asking the kernel (LocalPrefixes nil), refuses a
// granted name that resolves there; the check of before, the
// interfaces' addresses, let it through. The test re-runs itself in a
// new user and network namespace: no route is added to the host's.
func TestLocalRouteInANamespace(t *testing.T) {
	if os.Getenv("EGRESS_TEST_NETNS") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "EGRESS_TEST_NETNS=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err != nil && !errors.As(err, &exit):
			t.Skipf("skipped: no user and network namespace here: %v", err)
		case err != nil:
			t.Fatalf("%v\n%s", err, out)
		case strings.Contains(string(out), "--- SKIP"):
			t.Skipf("%s", out)
		}
		t.Logf("%s", out)
		return
	}

	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: no iproute2 to add the route with")
	}
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"route", "add", "local", "203.0.113.0/24", "dev", "lo"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SECRET\n"))
			c.Close()
		}
	}()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	anyIP := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.9"), port)

	c, err := net.DialTimeout("tcp", anyIP.String(), 5*time.Second)
	if err != nil {
		t.Fatalf("the local route does not reach the service: %v", err)
	}
	c.Close()

	interfaces := func() ([]netip.Prefix, error) { // the check before R2-4's fix
		addrs, err := net.InterfaceAddrs()
		var out []netip.Prefix
		for _, a := range addrs {
			p := netip.MustParsePrefix(a.String())
			out = append(out, netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
		}
		return out, err
	}
	for _, tc := range []struct {
		name    string
		local   func() ([]netip.Prefix, error)
		reached bool
	}{
		{"the kernel's local routes", nil, false},
		{"the interfaces' addresses", interfaces, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := newInternet(t)
			target := fmt.Sprintf("anyip.example.test:%d", port)
			cell := newCell(t, in, []string{target}, func(cfg *egress.Config) {
				cfg.Resolve = func(context.Context, string) ([]netip.Addr, error) { return []netip.Addr{anyIP.Addr()}, nil }
				cfg.Dial = (&net.Dialer{}).DialContext
				cfg.LocalPrefixes = tc.local
			})
			conn, err := connect(cell, target)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, _ := bufio.NewReader(conn).ReadString('\n')
			r, _ := find(cell.close(), egress.KindConn, "anyip.example.test")
			t.Logf("got %q, record: %s", got, r.Reason)
			if reached := got == "SECRET\n"; reached != tc.reached {
				t.Errorf("reached the service: %v, want %v (record %+v)", reached, tc.reached, r)
			}
			if !tc.reached && !strings.Contains(r.Reason, "its local route 203.0.113.0/24") {
				t.Errorf("record %+v: want refused for the local route", r)
			}
		})
	}
}
