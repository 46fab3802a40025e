package sandbox

import (
	"encoding/binary"
	"fmt"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// filterSelf is the server's pid in the filters these tests build.
const filterSelf = 4242

// runFilter evaluates the cell's filter on one syscall in x/net/bpf's VM.
func runFilter(t *testing.T, net Net, arch uint32, nr uint32, args ...uint64) uint32 {
	t.Helper()
	return runFilterOff(t, net, 0, arch, nr, args...)
}

// runFilterOff is runFilter with parts of the filter switched off.
func runFilterOff(t *testing.T, net Net, off Unhardened, arch uint32, nr uint32, args ...uint64) uint32 {
	t.Helper()
	raw, err := seccompFilter(net, filterSelf, off)
	if err != nil {
		t.Fatal(err)
	}
	insts, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("cannot disassemble the filter")
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatal(err)
	}
	// struct seccomp_data as a little-endian kernel lays it out, in
	// 32-bit words; the VM reads each word big-endian, so write them so.
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], nr)
	binary.BigEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))       // low word first
		binary.BigEndian.PutUint32(data[16+8*i+4:], uint32(a>>32)) // then the high word
	}
	ret, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(ret)
}

func TestSeccompFilter(t *testing.T) {
	native, err := nativeArch()
	if err != nil {
		t.Skip(err)
	}
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eperm := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	noproto := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPROTONOSUPPORT))
	sock := uint32(unix.SYS_SOCKET)
	for _, c := range []struct {
		name string
		net  Net
		arch uint32
		nr   uint32
		args []uint64
		want uint32
	}{
		{"tcp", Net{}, native, sock, []uint64{unix.AF_INET, unix.SOCK_STREAM, 0}, allow},
		{"tcp6 cloexec nonblock", Net{}, native, sock, []uint64{unix.AF_INET6, unix.SOCK_STREAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK, unix.IPPROTO_TCP}, allow},
		{"mptcp", Net{}, native, sock, []uint64{unix.AF_INET, unix.SOCK_STREAM, 262}, noproto},
		{"udp", Net{}, native, sock, []uint64{unix.AF_INET, unix.SOCK_DGRAM, 0}, eperm},
		{"udp granted", Net{UDP: true}, native, sock, []uint64{unix.AF_INET, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC, 0}, allow},
		{"raw", Net{UDP: true}, native, sock, []uint64{unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP}, eperm},
		{"udp in its own namespace", Net{Egress: &Egress{}}, native, sock, []uint64{unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_UDP}, allow},
		{"raw in its own namespace", Net{Egress: &Egress{}}, native, sock, []uint64{unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP}, eperm},
		{"netlink in its own namespace", Net{Egress: &Egress{}}, native, sock, []uint64{unix.AF_NETLINK, unix.SOCK_DGRAM, unix.NETLINK_ROUTE}, eperm},
		{"unix in its own namespace", Net{Egress: &Egress{}}, native, sock, []uint64{unix.AF_UNIX, unix.SOCK_DGRAM, 0}, eperm},
		{"seqpacket", Net{}, native, sock, []uint64{unix.AF_INET, unix.SOCK_SEQPACKET, 0}, eperm},
		{"packet", Net{}, native, sock, []uint64{unix.AF_PACKET, unix.SOCK_RAW, 0}, eperm},
		{"netlink", Net{}, native, sock, []uint64{unix.AF_NETLINK, unix.SOCK_RAW, 0}, eperm},
		{"vsock", Net{}, native, sock, []uint64{unix.AF_VSOCK, unix.SOCK_STREAM, 0}, eperm},
		{"unix", Net{}, native, sock, []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, eperm},
		{"unix granted", Net{Unix: true}, native, sock, []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, allow},
		{"high bits in domain", Net{}, native, sock, []uint64{1<<32 | unix.AF_INET, unix.SOCK_STREAM, 0}, eperm},
		{"socketpair", Net{}, native, unix.SYS_SOCKETPAIR, []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, allow},
		{"io_uring_setup", Net{}, native, unix.SYS_IO_URING_SETUP, nil, eperm},
		{"ptrace", Net{}, native, unix.SYS_PTRACE, nil, eperm},
		{"keyctl", Net{}, native, unix.SYS_KEYCTL, nil, eperm},
		{"read", Net{}, native, unix.SYS_READ, nil, allow},
		{"foreign arch", Net{}, unix.AUDIT_ARCH_I386, 1, nil, unix.SECCOMP_RET_KILL_PROCESS},
		{"x32", Net{}, native, 0x40000000 | unix.SYS_SOCKET, []uint64{unix.AF_INET, unix.SOCK_RAW, 1}, uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))},
	} {
		if c.name == "x32" && native != unix.AUDIT_ARCH_X86_64 {
			continue
		}
		if got := runFilter(t, c.net, c.arch, c.nr, c.args...); got != c.want {
			t.Errorf("%s: filter returns %#x, want %#x", c.name, got, c.want)
		}
	}
}

// The calls that act on other processes, clone's namespace flags, clone3
// and executable memfds, in the filter's VM: each refused, its allowed
// neighbours allowed, and each allowed with its part of the filter off
// (the control).
func TestSeccompProcessRules(t *testing.T) {
	native, err := nativeArch()
	if err != nil {
		t.Skip(err)
	}
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eperm := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	enosys := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	const other = 1 // init, or any pid but the server's
	self := uint64(filterSelf)
	type c struct {
		name string
		nr   uint32
		args []uint64
		want uint32
		off  Unhardened // the part of the filter that refuses it
	}
	cases := []c{
		{"clone a thread", unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID}, allow, 0},
		{"fork by clone", unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD) | unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID}, allow, 0},
		{"vfork by clone", unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD) | unix.CLONE_VM | unix.CLONE_VFORK}, allow, 0},
		{"clone3", unix.SYS_CLONE3, []uint64{0, 88}, enosys, AllowNamespaces},
		{"memfd_create sealed", unix.SYS_MEMFD_CREATE, []uint64{0, unix.MFD_CLOEXEC | unix.MFD_NOEXEC_SEAL}, allow, 0},
		{"memfd_create", unix.SYS_MEMFD_CREATE, []uint64{0, unix.MFD_CLOEXEC}, eperm, AllowExecMemfd},
		{"memfd_create MFD_EXEC", unix.SYS_MEMFD_CREATE, []uint64{0, unix.MFD_EXEC}, eperm, AllowExecMemfd},
		{"memfd_create both", unix.SYS_MEMFD_CREATE, []uint64{0, unix.MFD_EXEC | unix.MFD_NOEXEC_SEAL}, eperm, AllowExecMemfd},
		{"memfd_create hugetlb", unix.SYS_MEMFD_CREATE, []uint64{0, unix.MFD_HUGETLB}, eperm, AllowExecMemfd},
		{"memfd_secret", unix.SYS_MEMFD_SECRET, []uint64{0}, eperm, 0},
		{"setpriority user 0 (all of the user's processes)", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_USER, 0, 0}, eperm, AllowOtherProcesses},
		{"setpriority user root", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_USER, 0, 19}, eperm, AllowOtherProcesses},
		{"setpriority own process", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_PROCESS, 0, 10}, allow, 0},
		{"setpriority self by pid", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_PROCESS, self, 10}, allow, 0},
		{"setpriority own group", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_PGRP, 0, 10}, allow, 0},
		{"setpriority other process", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_PROCESS, other, 10}, eperm, AllowOtherProcesses},
		{"setpriority other group", unix.SYS_SETPRIORITY, []uint64{unix.PRIO_PGRP, other, 10}, eperm, AllowOtherProcesses},
		{"setpriority unknown which", unix.SYS_SETPRIORITY, []uint64{7, 0, 10}, eperm, AllowOtherProcesses},
		{"setpriority which with high bits", unix.SYS_SETPRIORITY, []uint64{1<<32 | unix.PRIO_USER, 0, 10}, eperm, AllowOtherProcesses},
		{"ioprio_set own process", unix.SYS_IOPRIO_SET, []uint64{ioprioWhoProc, 0, 0}, allow, 0},
		{"ioprio_set own group", unix.SYS_IOPRIO_SET, []uint64{ioprioWhoPgrp, self, 0}, allow, 0},
		{"ioprio_set user 0", unix.SYS_IOPRIO_SET, []uint64{3, 0, 0}, eperm, AllowOtherProcesses},
		{"ioprio_set other process", unix.SYS_IOPRIO_SET, []uint64{ioprioWhoProc, other, 0}, eperm, AllowOtherProcesses},
	}
	for _, name := range OwnProcessOnly {
		n := syscallNumbers[name]
		if name == "setpriority" || name == "ioprio_set" {
			continue
		}
		cases = append(cases,
			c{name + " self (0)", n, []uint64{0}, allow, 0},
			c{name + " self (pid)", n, []uint64{self}, allow, 0},
			c{name + " self, high bits set", n, []uint64{1<<32 | self}, allow, 0}, // the kernel reads an int
			c{name + " other", n, []uint64{other}, eperm, AllowOtherProcesses},
			c{name + " other, high bits set", n, []uint64{1<<32 | other}, eperm, AllowOtherProcesses},
			c{name + " -1", n, []uint64{0xffffffff}, eperm, AllowOtherProcesses},
		)
	}
	for _, f := range []uint64{unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP, unix.CLONE_NEWTIME} {
		cases = append(cases,
			c{fmt.Sprintf("clone %#x", f), unix.SYS_CLONE, []uint64{f | uint64(unix.SIGCHLD)}, eperm, AllowNamespaces},
			c{fmt.Sprintf("clone %#x with a thread's flags", f), unix.SYS_CLONE, []uint64{f | unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}, eperm, AllowNamespaces},
		)
	}
	cases = append(cases, c{"clone all namespaces", unix.SYS_CLONE, []uint64{cloneNewFlags | uint64(unix.SIGCHLD)}, eperm, AllowNamespaces})
	for _, cs := range cases {
		if got := runFilter(t, Net{}, native, cs.nr, cs.args...); got != cs.want {
			t.Errorf("%s: filter returns %#x, want %#x", cs.name, got, cs.want)
		}
		if cs.off == 0 {
			continue
		}
		if got := runFilterOff(t, Net{}, cs.off, native, cs.nr, cs.args...); got != allow {
			t.Errorf("%s, with that part of the filter off: filter returns %#x, want it allowed (the control)", cs.name, got)
		}
	}
}

// The network calls Landlock's TCP rules do not see, and set-ID modes,
// in the filter's VM: each refused, its everyday neighbours allowed.
func TestSeccompNetAndModeRules(t *testing.T) {
	native, err := nativeArch()
	if err != nil {
		t.Skip(err)
	}
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	eperm := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	enosys := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	listenPort := Net{BindTCP: []uint16{8080}}
	unixOn := Net{Unix: true}
	type c struct {
		name string
		net  Net
		nr   uint32
		args []uint64
		want uint32
		off  Unhardened
	}
	cases := []c{
		{"sendto", Net{}, unix.SYS_SENDTO, []uint64{3, 0, 1, unix.MSG_NOSIGNAL}, allow, 0},
		{"sendto MSG_FASTOPEN", Net{}, unix.SYS_SENDTO, []uint64{3, 0, 1, unix.MSG_FASTOPEN}, eperm, 0},
		{"sendto MSG_FASTOPEN with ports granted", Net{ConnectTCP: []uint16{443}}, unix.SYS_SENDTO, []uint64{3, 0, 1, unix.MSG_FASTOPEN | unix.MSG_NOSIGNAL}, eperm, 0},
		{"sendmsg", Net{}, unix.SYS_SENDMSG, []uint64{3, 0, unix.MSG_DONTWAIT}, allow, 0},
		{"sendmsg MSG_FASTOPEN", Net{}, unix.SYS_SENDMSG, []uint64{3, 0, unix.MSG_FASTOPEN}, eperm, 0},
		{"sendmmsg MSG_FASTOPEN", Net{}, unix.SYS_SENDMMSG, []uint64{3, 0, 1, unix.MSG_FASTOPEN}, eperm, 0},
		{"listen with no bind grant", Net{}, unix.SYS_LISTEN, []uint64{3, 1}, eperm, 0},
		{"listen with a bind grant", listenPort, unix.SYS_LISTEN, []uint64{3, 1}, allow, 0},
		{"listen with unix = true", unixOn, unix.SYS_LISTEN, []uint64{3, 1}, allow, 0},
		{"socketpair stream", Net{}, unix.SYS_SOCKETPAIR, []uint64{unix.AF_UNIX, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0}, allow, 0},
		{"socketpair datagram", Net{}, unix.SYS_SOCKETPAIR, []uint64{unix.AF_UNIX, unix.SOCK_DGRAM, 0}, eperm, 0},
		{"socketpair seqpacket", Net{}, unix.SYS_SOCKETPAIR, []uint64{unix.AF_UNIX, unix.SOCK_SEQPACKET | unix.SOCK_NONBLOCK, 0}, eperm, 0},
		{"socketpair datagram with unix = true", unixOn, unix.SYS_SOCKETPAIR, []uint64{unix.AF_UNIX, unix.SOCK_DGRAM, 0}, allow, 0},
		{"fchmod 0755", Net{}, unix.SYS_FCHMOD, []uint64{3, 0o755}, allow, 0},
		{"fchmod 04755", Net{}, unix.SYS_FCHMOD, []uint64{3, 0o4755}, eperm, AllowSetID},
		{"fchmodat 02755", Net{}, unix.SYS_FCHMODAT, []uint64{3, 0, 0o2755}, eperm, AllowSetID},
		{"fchmodat2 06755", Net{}, 452, []uint64{3, 0, 0o6755, 0}, eperm, AllowSetID},
		{"fchmodat sticky 01777", Net{}, unix.SYS_FCHMODAT, []uint64{3, 0, 0o1777}, allow, 0},
		{"mknodat a set-user-ID file", Net{}, unix.SYS_MKNODAT, []uint64{3, 0, unix.S_IFREG | 0o4755, 0}, eperm, AllowSetID},
		{"openat to read, junk in mode", Net{}, unix.SYS_OPENAT, []uint64{3, 0, unix.O_RDONLY, 0o7777}, allow, 0},
		{"openat O_CREAT 0644", Net{}, unix.SYS_OPENAT, []uint64{3, 0, unix.O_CREAT | unix.O_WRONLY, 0o644}, allow, 0},
		{"openat O_CREAT 04755", Net{}, unix.SYS_OPENAT, []uint64{3, 0, unix.O_CREAT | unix.O_WRONLY, 0o4755}, eperm, AllowSetID},
		{"openat O_TMPFILE 02755", Net{}, unix.SYS_OPENAT, []uint64{3, 0, unix.O_TMPFILE | unix.O_WRONLY, 0o2755}, eperm, AllowSetID},
		{"openat2 (its mode is out of reach)", Net{}, unix.SYS_OPENAT2, []uint64{3, 0, 0, 24}, enosys, AllowSetID},
	}
	if native == unix.AUDIT_ARCH_X86_64 {
		cases = append(cases,
			c{"chmod 04755", Net{}, archSyscalls["chmod"], []uint64{0, 0o4755}, eperm, AllowSetID},
			c{"chmod 0755", Net{}, archSyscalls["chmod"], []uint64{0, 0o755}, allow, 0},
			c{"creat 04755", Net{}, archSyscalls["creat"], []uint64{0, 0o4755}, eperm, AllowSetID},
			c{"open O_CREAT 04755", Net{}, archSyscalls["open"], []uint64{0, unix.O_CREAT | unix.O_WRONLY, 0o4755}, eperm, AllowSetID},
			c{"open to read, junk in mode", Net{}, archSyscalls["open"], []uint64{0, unix.O_RDONLY, 0o4755}, allow, 0},
			c{"mknod a set-group-ID file", Net{}, archSyscalls["mknod"], []uint64{0, unix.S_IFREG | 0o2755, 0}, eperm, AllowSetID},
		)
	}
	for _, cs := range cases {
		if got := runFilter(t, cs.net, native, cs.nr, cs.args...); got != cs.want {
			t.Errorf("%s: filter returns %#x, want %#x", cs.name, got, cs.want)
		}
		if cs.off != 0 {
			if got := runFilterOff(t, cs.net, cs.off, native, cs.nr, cs.args...); got != allow {
				t.Errorf("%s, with that part of the filter off: filter returns %#x, want it allowed (the control)", cs.name, got)
			}
		}
	}
}
