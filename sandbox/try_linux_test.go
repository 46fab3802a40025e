package sandbox

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TryNamespace sets up the namespace of testEgress (lo up, an address
// added, TCP and UDP sockets bound, port 53 below 1024) and returns nil,
// leaving no process and no file descriptor behind. Run as root here
// and as uid 65534 by TestTryNamespaceUnprivileged.
func TestTryNamespace(t *testing.T) {
	helper := []string{os.Args[0], HelperCommand}
	children, fds := ownChildren(t), openFDs(t)
	if err := TryNamespace(helper, *testEgress(), os.Stderr); err != nil {
		t.Fatalf("the try failed: %v", err)
	}
	if got := ownChildren(t); got != children {
		t.Errorf("child processes after the try: %q, before: %q", got, children)
	}
	if got := newFDs(t, fds); len(got) > 0 {
		t.Errorf("file descriptors %v are open after the try, and were not before", got)
	}
}

// TestTryNamespace as uid 65534, whose helper has only the ambient
// capabilities for the set-up.
func TestTryNamespaceUnprivileged(t *testing.T) {
	runUnprivileged(t, "TestTryNamespace")
}

// The try binds the sockets for real, in the namespace: one on an address
// not added to lo fails at its binding, as does a second socket on the
// same port, each with the NamespaceError Start returns for that layout.
// Controls: the address added, or the second socket on another port, and
// the try works.
func TestTryNamespaceBinds(t *testing.T) {
	helper := []string{os.Args[0], HelperCommand}
	stub := netip.MustParseAddr("10.255.255.99")
	for _, c := range []struct {
		name   string
		egress Egress
		step   string // "" for none: the try works
		errno  syscall.Errno
	}{
		{"address not on lo", Egress{Listen: []Listen{{Addr: netip.AddrPortFrom(stub, 53)}}}, "binding tcp 10.255.255.99:53", syscall.EADDRNOTAVAIL},
		{"control: address added", Egress{Addrs: []netip.Addr{stub}, Listen: []Listen{{Addr: netip.AddrPortFrom(stub, 53)}}}, "", 0},
		{"port taken", Egress{Listen: []Listen{{Addr: netip.MustParseAddrPort("127.0.0.1:3128")}, {Addr: netip.MustParseAddrPort("127.0.0.1:3128")}}}, "binding tcp 127.0.0.1:3128", syscall.EADDRINUSE},
		{"control: another port", Egress{Listen: []Listen{{Addr: netip.MustParseAddrPort("127.0.0.1:3128")}, {Addr: netip.MustParseAddrPort("127.0.0.1:3129")}}}, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := TryNamespace(helper, c.egress, os.Stderr)
			if c.step == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var nsErr *NamespaceError
			if !errors.As(err, &nsErr) || nsErr.Step != c.step || !errors.Is(err, c.errno) {
				t.Fatalf("got %#v (%v), want a NamespaceError at %q of %v", err, err, c.step, c.errno)
			}
		})
	}
}

// A helper given a try's spec execs nothing, although the spec has a
// command: the try returns nil and the command has not run. Control: the
// same spec, not a try, runs the command.
func TestTryExecsNothing(t *testing.T) {
	cell := sleepCell(t)
	touch, err := exec.LookPath("touch")
	if err == nil {
		touch, err = filepath.EvalSymlinks(touch)
	}
	if err != nil {
		t.Skip("skipped: no touch")
	}
	marker := filepath.Join(cell.Spec.Dir, "ran")
	cell.Spec.Command, cell.Spec.Path = []string{touch, marker}, touch
	cell.Spec.Rules = append(cell.Spec.Rules, PathRule{Path: cell.Spec.Dir, Access: Read | Write, Dir: true})
	cell.Spec.Net.Egress = testEgress()

	p, err := spawn(nil, cell.Helper, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.try(cell.Spec, os.Stderr); err != nil {
		t.Fatalf("the try failed: %v", err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the try ran the command (%v)", err)
	}

	srv, err := Start(cell, io.Discard)
	if err != nil {
		t.Fatalf("control: %v", err)
	}
	for _, f := range srv.Sockets {
		f.Close()
	}
	if code := srv.Wait(); code != 0 {
		t.Fatalf("control: touch exited %d", code)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("control: the command did not run: %v", err)
	}
}

// With no namespace left to make (the limits at 0), the try fails with
// the NamespaceError Start gets (TestNamespaceLimit).
func TestTryNamespaceLimit(t *testing.T) {
	if !underNamespaceLimit(t) {
		return
	}
	err := TryNamespace([]string{os.Args[0], HelperCommand}, *testEgress(), os.Stderr)
	wantLimitError(t, err)
}

// ownChildren lists this process's children, from every thread.
func ownChildren(t *testing.T) string {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(tasks) == 0 {
		t.Skip("skipped: no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN)")
	}
	var all []string
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		all = append(all, strings.Fields(string(b))...)
	}
	return strings.Join(all, " ")
}
