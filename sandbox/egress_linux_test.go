package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netProbeCommand makes the test binary the hostile server of the egress
// tests: it tries each of its arguments and prints one line per try,
// "TRY ok" or "TRY error: …".
const netProbeCommand = "__netprobe"

// netProbe runs the tries: "caps" (the capability sets, all 0 or an
// error), "netlink" (a routing socket), "loup" and "addaddr" (lo up, an
// address on lo:1, by ioctl), "tcp:ADDR:PORT" (connect, send "ping",
// expect a reply) and "udp:ADDR:PORT" (the same by datagram).
func netProbe(tries []string) int {
	for _, try := range tries {
		err := netTry(try)
		if err != nil {
			fmt.Printf("%s error: %v\n", try, err)
		} else {
			fmt.Printf("%s ok\n", try)
		}
	}
	return 0
}

func netTry(try string) error {
	kind, addr, _ := strings.Cut(try, ":")
	switch kind {
	case "caps":
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return err
		}
		var held []string
		for _, line := range strings.Split(string(b), "\n") {
			name, v, _ := strings.Cut(line, ":\t")
			if (name == "CapEff" || name == "CapPrm" || name == "CapInh" || name == "CapAmb") && strings.Trim(v, "0") != "" {
				held = append(held, name+" "+v)
			}
		}
		if held != nil {
			return errors.New(strings.Join(held, ", "))
		}
		return nil
	case "netlink":
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
		if err == nil {
			unix.Close(fd)
		}
		return err
	case "loup", "addaddr":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if kind == "loup" {
			ifr, _ := unix.NewIfreq("lo")
			if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
				return err
			}
			ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
			return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
		}
		ifr, _ := unix.NewIfreq("lo:1")
		if err := ifr.SetInet4Addr([]byte{10, 9, 9, 9}); err != nil {
			return err
		}
		return unix.IoctlIfreq(fd, unix.SIOCSIFADDR, ifr)
	case "tcp", "udp":
		c, err := net.DialTimeout(kind, addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		b := make([]byte, 64)
		n, err := c.Read(b)
		if err != nil {
			return err
		}
		if string(b[:n]) != "pong" {
			return fmt.Errorf("reply %q", b[:n])
		}
		return nil
	}
	return fmt.Errorf("unknown try %q", try)
}

// probeCell is a cell whose server is netProbe, trying tries.
func probeCell(t *testing.T, tries ...string) Cell {
	t.Helper()
	c := sleepCell(t)
	exe, err := filepath.EvalSymlinks(os.Args[0])
	if err == nil {
		exe, err = filepath.Abs(exe)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Spec.Command = append([]string{exe, netProbeCommand}, tries...)
	c.Spec.Path = exe
	c.Spec.Rules = append(c.Spec.Rules, PathRule{Path: filepath.Dir(exe), Access: Read | Exec, Dir: true}, PathRule{Path: "/proc", Access: Read, Dir: true})
	return c
}

// runProbe starts cell, serves its sockets ("pong" to each "ping"),
// and returns each try's result line by try.
func runProbe(t *testing.T, cell Cell) map[string]string {
	t.Helper()
	srv, err := Start(cell, os.Stderr)
	if err != nil {
		t.Fatalf("starting the cell: %v", err)
	}
	defer srv.Stop(Ladder{})
	if e := cell.Spec.Net.Egress; e != nil && len(srv.Sockets) != len(e.Listen) {
		t.Fatalf("%d sockets, want %d", len(srv.Sockets), len(e.Listen))
	}
	for i, f := range srv.Sockets {
		serve(t, f, cell.Spec.Net.Egress.Listen[i].UDP)
	}
	results := map[string]string{}
	sc := bufio.NewScanner(srv.Stdout)
	for sc.Scan() {
		try, result, _ := strings.Cut(sc.Text(), " ")
		results[try] = result
	}
	if code := srv.Wait(); code != 0 {
		t.Fatalf("the probe exited %d", code)
	}
	return results
}

// serve answers "pong" on a socket of the namespace, as mcpcell's relay
// would serve it, from the host's namespace.
func serve(t *testing.T, f *os.File, udp bool) {
	t.Helper()
	defer f.Close()
	if udp {
		pc, err := net.FilePacketConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			b := make([]byte, 64)
			for {
				_, from, err := pc.ReadFrom(b)
				if err != nil {
					return
				}
				pc.WriteTo([]byte("pong"), from)
			}
		}()
		return
	}
	l, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go answer(l, nil)
}

// answer accepts on l, counts each connection in n and answers "pong".
func answer(l net.Listener, n *atomic.Int32) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		if n != nil {
			n.Add(1)
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			b := make([]byte, 64)
			if _, err := c.Read(b); err == nil {
				c.Write([]byte("pong"))
			}
		}()
	}
}

// hostListeners are the host namespace's listeners a server in its own
// namespace must not reach: TCP on 127.0.0.1 and on a non-loopback
// address of the host (none when the host has none), UDP on 127.0.0.1.
type hostListeners struct {
	tcp, eth string
	udp      string
	hits     atomic.Int32 // connections and datagrams seen
}

func listenOnHost(t *testing.T) *hostListeners {
	t.Helper()
	h := &hostListeners{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go answer(l, &h.hits)
	h.tcp = l.Addr().String()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
			el, err := net.Listen("tcp", net.JoinHostPort(ipn.IP.String(), "0"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { el.Close() })
			go answer(el, &h.hits)
			h.eth = el.Addr().String()
			break
		}
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		b := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			h.hits.Add(1)
			pc.WriteTo([]byte("pong"), from)
		}
	}()
	h.udp = pc.LocalAddr().String()
	return h
}

// tries are the attempts on the host's listeners; ports are theirs, to
// grant by Landlock, so that only the namespace can stop them.
func (h *hostListeners) tries() (tries []string, ports []uint16) {
	for _, a := range []string{h.tcp, h.eth} {
		if a == "" {
			continue
		}
		tries = append(tries, "tcp:"+a)
		ports = append(ports, netip.MustParseAddrPort(a).Port())
	}
	return append(tries, "udp:"+h.udp), ports
}

// testEgress is a namespace with the exits the design gives it: a proxy
// port, a host rule on 127.0.0.2:443, a DNS stub on an address added to
// lo (TCP and UDP, port 53: below 1024), and an IPv6 one.
func testEgress() *Egress {
	e := &Egress{
		Addrs: []netip.Addr{netip.MustParseAddr("10.255.255.53")},
		Listen: []Listen{
			{Addr: netip.MustParseAddrPort("127.0.0.1:3128")},
			{Addr: netip.MustParseAddrPort("127.0.0.2:443")},
			{Addr: netip.MustParseAddrPort("10.255.255.53:53")},
			{Addr: netip.MustParseAddrPort("10.255.255.53:53"), UDP: true},
		},
	}
	if _, err := os.Stat("/proc/net/if_inet6"); err == nil {
		e.Addrs = append(e.Addrs, netip.MustParseAddr("fdcc::53"))
		e.Listen = append(e.Listen, Listen{Addr: netip.MustParseAddrPort("[fdcc::53]:53")})
	}
	return e
}

// A server in the cell's own network namespace reaches the sockets the
// helper bound there, which mcpcell serves from the host's namespace
// (TCP on 127/8, on an address added to lo, on IPv6, below port 1024;
// UDP), and nothing else: not a listener of the host's namespace on
// 127.0.0.1, nor one on the host's own address, nor a UDP socket there,
// although Landlock grants their ports. It cannot create a netlink socket,
// bring lo up or add an address, and holds no capability. Controls: the
// same tries from a cell without the namespace reach the host's
// listeners; with its capabilities kept, the server changes lo; without
// seccomp it makes a netlink socket. Run as root here and as uid 65534 by
// TestEgressUnprivileged.
func TestEgressNamespace(t *testing.T) {
	host := listenOnHost(t)
	hostTries, ports := host.tries()
	egress := testEgress()
	var exits []string
	for _, l := range egress.Listen {
		exits = append(exits, strings.Replace(l.String(), " ", ":", 1))
	}
	own := []string{"netlink", "loup", "addaddr"}

	cell := probeCell(t, append(append(append([]string{"caps"}, own...), exits...), hostTries...)...)
	cell.Spec.Net = Net{ConnectTCP: ports, Egress: egress}
	got := runProbe(t, cell)
	if got["caps"] != "ok" {
		t.Errorf("the server holds capabilities: %s", got["caps"])
	}
	for _, try := range exits {
		if got[try] != "ok" {
			t.Errorf("%s, a socket of the namespace: %q, want ok", try, got[try])
		}
	}
	for _, try := range append(own, hostTries...) {
		if got[try] == "ok" || got[try] == "" {
			t.Errorf("%s from the namespace: %q, want an error", try, got[try])
		}
	}
	for _, try := range []string{"netlink", "loup", "addaddr"} {
		if !strings.Contains(got[try], "operation not permitted") {
			t.Errorf("%s: %q, want EPERM", try, got[try])
		}
	}
	time.Sleep(100 * time.Millisecond) // a datagram in flight
	if n := host.hits.Load(); n != 0 {
		t.Errorf("the host's listeners saw %d connections or datagrams from the namespace", n)
	}

	t.Run("control: without the namespace", func(t *testing.T) {
		cell := probeCell(t, hostTries...)
		cell.Spec.Net = Net{ConnectTCP: ports, UDP: true}
		got := runProbe(t, cell)
		for _, try := range hostTries {
			if got[try] != "ok" {
				t.Errorf("%s: %q, want ok", try, got[try])
			}
		}
	})
	t.Run("control: capabilities kept", func(t *testing.T) {
		cell := probeCell(t, "caps", "loup", "addaddr")
		cell.Spec.Net = Net{Egress: testEgress()}
		cell.Spec.Unhardened = KeepCapabilities
		got := runProbe(t, cell)
		for _, try := range []string{"loup", "addaddr"} {
			if got[try] != "ok" {
				t.Errorf("%s: %q, want ok", try, got[try])
			}
		}
		if got["caps"] == "ok" {
			t.Errorf("caps: none held, want some")
		}
	})
	t.Run("control: no seccomp", func(t *testing.T) {
		cell := probeCell(t, "netlink")
		cell.Spec.Net = Net{Egress: testEgress()}
		cell.Spec.PretendNoSeccomp = true
		if got := runProbe(t, cell); got["netlink"] != "ok" {
			t.Errorf("netlink: %q, want ok", got["netlink"])
		}
	})
}

// TestEgressNamespace as uid 65534, which needs the ambient capabilities
// to set the namespace up, and has them no more once the server runs.
func TestEgressUnprivileged(t *testing.T) {
	runUnprivileged(t, "TestEgressNamespace")
}

// runUnprivileged runs the test named as uid 65534 (setpriv), from a copy
// of the test binary that user can read.
func runUnprivileged(t *testing.T, name string) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to become uid 65534 (this run is unprivileged already)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		if os.Getenv("MCPCELL_REQUIRE_ALL") == "1" {
			t.Fatal("setpriv (util-linux) is missing, and MCPCELL_REQUIRE_ALL=1 makes that a failure")
		}
		t.Skip("skipped: setpriv (util-linux) is missing")
	}
	dir, err := os.MkdirTemp("/tmp", "mcpcell-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "sandbox.test")
	data, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.WriteFile(bin, data, 0o755)
	}
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=/tmp", "MCPCELL_REQUIRE_ALL=" + os.Getenv("MCPCELL_REQUIRE_ALL")}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name+" ") || strings.Contains(string(out), "--- SKIP") {
		t.Fatalf("%s as uid 65534: %v\n%s", name, err, out)
	}
}

// A helper prepared before the profile was read shares mcpcell's network:
// for a spec with Egress, Start discards it and starts one in a namespace
// of its own; and a helper outside such a namespace, given that spec,
// refuses to start the server (the control: given a spec without Egress,
// it starts it).
func TestPreparedDiscardedForEgress(t *testing.T) {
	cell := sleepCell(t)
	cell.Spec.Net.Egress = &Egress{Listen: []Listen{{Addr: netip.MustParseAddrPort("127.0.0.1:3128")}}}
	p, err := Prepare(cell.Helper, 0)
	if err != nil {
		t.Fatal(err)
	}
	cell.Prepared = p
	srv, err := Start(cell, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(Ladder{})
	for _, f := range srv.Sockets {
		f.Close()
	}
	select {
	case <-p.s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the prepared helper still runs")
	}
	if srv == p.s {
		t.Fatal("the server is the prepared helper")
	}
	if ours, theirs := nsOf(t, os.Getpid()), nsOf(t, srv.Pid()); ours == theirs {
		t.Errorf("the server is in mcpcell's network namespace %s", ours)
	}

	for _, egress := range []bool{true, false} {
		p, err := Prepare(cell.Helper, 0)
		if err != nil {
			t.Fatal(err)
		}
		spec := cell.Spec
		if !egress {
			spec.Net.Egress = nil
		}
		srv, err := p.start(spec, io.Discard) // past Start's discard
		if egress {
			if err == nil {
				srv.Stop(Ladder{})
				t.Fatal("a helper in mcpcell's network started a server of a spec with Egress")
			}
			if !strings.Contains(err.Error(), "not in a network namespace of its own") {
				t.Errorf("error: %v", err)
			}
		} else if err != nil {
			t.Errorf("control: %v", err)
		} else {
			srv.Stop(Ladder{})
		}
	}
}

func nsOf(t *testing.T, pid int) string {
	t.Helper()
	ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// The namespace limit (user.max_user_namespaces or max_net_namespaces at
// 0), for real.
func TestNamespaceLimit(t *testing.T) {
	cell := sleepCell(t) // skips where the cell cannot run
	if !underNamespaceLimit(t) {
		return
	}
	cell.Spec.Net.Egress = testEgress()
	srv, err := Start(cell, io.Discard)
	if err == nil {
		srv.Stop(Ladder{})
		t.Fatal("the cell started with no namespace left to make")
	}
	wantLimitError(t, err)
}

// underNamespaceLimit runs the calling test again in a user namespace of
// its own whose limit of user namespaces, then of network namespaces, is
// 0, and reports whether this is that run (where the test goes on to
// expect the refusal) rather than the one that started it. The limits
// belong to a user namespace, which may set its own: so the test needs
// root, to map every uid there.
func underNamespaceLimit(t *testing.T) bool {
	t.Helper()
	if key := os.Getenv("MCPCELL_TEST_NSLIMIT"); key != "" {
		if err := os.WriteFile("/proc/sys/user/max_"+key+"_namespaces", []byte("0"), 0); err != nil {
			t.Fatal(err)
		}
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to map every uid in a user namespace of its own")
	}
	name := t.Name()
	for _, key := range []string{"user", "net"} {
		t.Run(key, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "MCPCELL_TEST_NSLIMIT="+key)
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, GidMappingsEnableSetgroups: true,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1<<32 - 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1<<32 - 1}},
			}
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: "+name+" ") {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
	return false
}

// wantLimitError fails unless err is the NamespaceError of a namespace
// limit at 0: ENOSPC, and a fix that names the sysctl.
func wantLimitError(t *testing.T, err error) {
	t.Helper()
	var nsErr *NamespaceError
	if !errors.As(err, &nsErr) || !errors.Is(err, syscall.ENOSPC) || nsErr.Step != stepCreate || !strings.Contains(nsErr.Fix(), "user.max_user_namespaces") {
		t.Fatalf("error %#v (%v), want a NamespaceError of ENOSPC at %q naming the sysctl", err, err, stepCreate)
	}
}

// Each failure of the namespace is told by its cause, with its fix, as
// the system's settings make it.
func TestNamespaceDiagnosis(t *testing.T) {
	for _, c := range []struct {
		name    string
		step    string
		err     error
		sysctls map[string]string
		cause   string // in the message
		fix     string // in Fix
	}{
		{"limit", stepCreate, &os.PathError{Op: "fork/exec", Path: "/usr/bin/mcpcell", Err: syscall.ENOSPC}, nil, "limit on user or network namespaces", "user.max_user_namespaces"},
		{"debian sysctl", stepCreate, syscall.EPERM, map[string]string{sysctlUnprivClone: "0\n"}, "kernel.unprivileged_userns_clone = 0", "kernel.unprivileged_userns_clone=1"},
		{"apparmor at clone", stepCreate, syscall.EPERM, map[string]string{sysctlUnprivClone: "1", sysctlAppArmorUserns: "1"}, "AppArmor", "setup apparmor --write"},
		{"seccomp or container", stepCreate, syscall.EPERM, map[string]string{sysctlUnprivClone: "1"}, "seccomp filter or a container forbids user namespaces", "inside a cell or a container"},
		{"no namespaces", stepCreate, syscall.EINVAL, nil, "no user or network namespaces", "CONFIG_USER_NS"},
		{"apparmor at lo", stepLoUp + ": RTM_NEWLINK", syscall.EPERM, map[string]string{sysctlAppArmorUserns: "1\n"}, "AppArmor", "apparmor_restrict_unprivileged_userns=0"},
		{"no capability", stepLoUp + ": RTM_NEWLINK", syscall.EPERM, map[string]string{sysctlAppArmorUserns: "0"}, "no capability", ""},
		{"apparmor absent", stepLoUp + ": RTM_NEWLINK", syscall.EPERM, nil, "no capability", ""},
	} {
		read := func(path string) ([]byte, error) {
			if v, ok := c.sysctls[path]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		}
		e := diagnose(c.step, c.err, read, "/usr/local/bin/mcpcell")
		if !strings.Contains(e.Error(), c.cause) || !strings.Contains(e.Error(), c.step) || !errors.Is(e, c.err) {
			t.Errorf("%s: %q, want the step and %q", c.name, e.Error(), c.cause)
		}
		if !strings.Contains(e.Fix(), c.fix) || (c.fix == "") != (e.Fix() == "") {
			t.Errorf("%s: fix %q, want %q", c.name, e.Fix(), c.fix)
		}
	}
}

// The start of a cell, with and without its own network namespace (the
// namespace's cost; the note's figure).
func BenchmarkStartEgress(b *testing.B) {
	for _, egress := range []bool{false, true} {
		b.Run(fmt.Sprintf("egress=%v", egress), func(b *testing.B) {
			cell := sleepCell(b)
			if egress {
				cell.Spec.Net.Egress = testEgress()
			}
			for b.Loop() {
				srv, err := Start(cell, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range srv.Sockets {
					f.Close()
				}
				srv.Stop(Ladder{})
			}
		})
	}
}

// Root's cell in its own namespace still opens a granted folder of
// another user (root maps every uid there: with uid 0 alone mapped, its
// override of file permissions would not apply to that folder's owner).
func TestEgressRootGrantsOtherUsersFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root")
	}
	cell := sleepCell(t)
	private := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	granted := filepath.Join(private, "granted") // beneath it: opening it needs search there
	if err := os.Mkdir(granted, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{private, granted} {
		if err := os.Chown(d, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	cell.Spec.Rules = append(cell.Spec.Rules, PathRule{Path: granted, Access: Read | Write, Dir: true})
	cell.Spec.Net.Egress = testEgress()
	srv, err := Start(cell, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range srv.Sockets {
		f.Close()
	}
	srv.Stop(Ladder{})
}
