package sandbox

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// runFilter evaluates the cell's filter on one syscall in x/net/bpf's VM.
func runFilter(t *testing.T, net Net, arch uint32, nr uint32, args ...uint64) uint32 {
	t.Helper()
	raw, err := seccompFilter(net)
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
