package sandbox

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// nativeArch is the AUDIT_ARCH value of the architectures the filter
// supports; every other one (and x32) is refused.
func nativeArch() (uint32, error) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, nil
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, nil
	}
	return 0, fmt.Errorf("the seccomp filter supports x86-64 and arm64, not %s", runtime.GOARCH)
}

// The filter is assembled here with x/net/bpf. go-seccomp-bpf (v1.6.0)
// was tried first: its assembler compares the next syscall group against
// whatever argument it loaded last, so an allow-list with argument
// conditions let every non-matching socket() through. Offsets are those
// of struct seccomp_data on a little-endian machine.
const (
	offNR   = 0
	offArch = 4
	offArgs = 16
	x32Bit  = 0x40000000
)

func argLo(i int) uint32 { return offArgs + 8*uint32(i) }
func argHi(i int) uint32 { return offArgs + 8*uint32(i) + 4 }

// prog is a BPF program with forward jumps to labels.
type prog struct {
	insts  []bpf.Instruction
	labels map[string]int
	jumps  []jump
}

type jump struct {
	at          int
	true, false string // "" falls through
}

func (p *prog) add(i bpf.Instruction) { p.insts = append(p.insts, i) }

func (p *prog) label(name string) { p.labels[name] = len(p.insts) }

func (p *prog) load(off uint32) { p.add(bpf.LoadAbsolute{Off: off, Size: 4}) }

// jeq jumps to t when A == v, else to f ("" for the next instruction).
func (p *prog) jeq(v uint32, t, f string) {
	p.jumps = append(p.jumps, jump{len(p.insts), t, f})
	p.add(bpf.JumpIf{Cond: bpf.JumpEqual, Val: v})
}

func (p *prog) jmp(t string) {
	p.jumps = append(p.jumps, jump{at: len(p.insts), true: t})
	p.add(bpf.Jump{})
}

func (p *prog) ret(v uint32) { p.add(bpf.RetConstant{Val: v}) }

func (p *prog) assemble() ([]bpf.RawInstruction, error) {
	for _, j := range p.jumps {
		skip := func(label string) (uint32, error) {
			if label == "" {
				return 0, nil
			}
			to, ok := p.labels[label]
			if !ok || to <= j.at {
				return 0, fmt.Errorf("bad jump to %q", label)
			}
			return uint32(to - j.at - 1), nil
		}
		t, err := skip(j.true)
		if err != nil {
			return nil, err
		}
		f, err := skip(j.false)
		if err != nil {
			return nil, err
		}
		switch in := p.insts[j.at].(type) {
		case bpf.Jump:
			in.Skip = t
			p.insts[j.at] = in
		case bpf.JumpIf:
			if t > 255 || f > 255 {
				return nil, fmt.Errorf("jump too long")
			}
			in.SkipTrue, in.SkipFalse = uint8(t), uint8(f)
			p.insts[j.at] = in
		}
	}
	return bpf.Assemble(p.insts)
}

// Argument values the filter checks that x/sys/unix does not name.
const (
	mptcp          = 262                     // IPPROTO_MPTCP
	ioprioWhoProc  = 1                       // IOPRIO_WHO_PROCESS
	ioprioWhoPgrp  = 2                       // IOPRIO_WHO_PGRP
	createFlags    = unix.O_CREAT | 0x400000 // O_CREAT, __O_TMPFILE: a mode is read
	setidBits      = unix.S_ISUID | unix.S_ISGID
	cloneNewFlags  = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME
	memfdExecFlags = unix.MFD_NOEXEC_SEAL | unix.MFD_EXEC
)

// seccompFilter is the cell's syscall filter in BPF: a foreign
// architecture kills the process, x32 calls fail, socket() is an
// allow-list, the Denied calls fail with EPERM, and so do the calls that
// act on other processes (OwnProcessOnly) for any pid but 0 and self (the
// server's pid: the helper becomes the server by execve), clone with a
// CLONE_NEW* flag and memfd_create without MFD_NOEXEC_SEAL; clone3 fails
// with ENOSYS. off switches parts off (tests' controls).
//
// The kernel reads the pid, which, flags and clone flags arguments as
// 32-bit values, so the filter compares their low words only: high bits
// cannot smuggle another value past it.
func seccompFilter(net Net, self int, off Unhardened) ([]bpf.RawInstruction, error) {
	native, err := nativeArch()
	if err != nil {
		return nil, err
	}
	nr := func(name string) (uint32, bool) {
		if n, ok := syscallNumbers[name]; ok {
			return n, ok
		}
		n, ok := archSyscalls[name]
		return n, ok
	}
	const (
		allow   = unix.SECCOMP_RET_ALLOW
		eperm   = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		enosys  = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
		noproto = unix.SECCOMP_RET_ERRNO | uint32(unix.EPROTONOSUPPORT)
	)
	p := &prog{labels: map[string]int{}}
	p.load(offArch)
	p.jeq(native, "native", "")
	p.ret(unix.SECCOMP_RET_KILL_PROCESS)
	p.label("native")
	p.load(offNR)
	if native == unix.AUDIT_ARCH_X86_64 {
		p.add(bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32Bit, SkipFalse: 1})
		p.ret(enosys)
	}
	to := func(name, label string) {
		if n, ok := nr(name); ok {
			p.jeq(n, label, "")
		}
	}
	to("socket", "socket")
	if off&AllowOtherProcesses == 0 {
		for _, name := range OwnProcessOnly {
			switch name {
			case "setpriority":
				to(name, "prio")
			case "ioprio_set":
				to(name, "ioprio")
			default:
				to(name, "pid")
			}
		}
	}
	if off&AllowNamespaces == 0 {
		to("clone", "clone")
		to("clone3", "enosys")
	}
	if off&AllowExecMemfd == 0 {
		to("memfd_create", "memfd")
	}
	// Network calls Landlock's TCP rules do not see: sendto/sendmsg with
	// MSG_FASTOPEN connects without connect(); listen() on an unbound
	// socket binds a port without bind(); a socketpair's datagram socket,
	// disconnected, sends to any UNIX socket path.
	to("sendto", "fastopen3")
	to("sendmmsg", "fastopen3")
	to("sendmsg", "fastopen2")
	if len(net.BindTCP) == 0 && !net.Unix {
		to("listen", "deny")
	}
	if !net.Unix {
		to("socketpair", "pair")
	}
	// Set-user-ID and set-group-ID files: a program the server leaves
	// behind for users outside the cell to run as the server's user.
	if off&AllowSetID == 0 {
		for name, label := range map[string]string{"chmod": "mode1", "fchmod": "mode1", "creat": "mode1", "mknod": "mode1", "fchmodat": "mode2", "fchmodat2": "mode2", "mknodat": "mode2", "open": "open1", "openat": "open2", "openat2": "enosys"} {
			to(name, label)
		}
	}
	for _, name := range Denied {
		to(name, "deny")
	}
	p.ret(allow)

	// socket(domain, type, protocol): no high bits anywhere; Multipath
	// TCP refused as unsupported, so that Go's MPTCP-first net.Listen
	// falls back to TCP; then the families and types the cell grants.
	p.label("socket")
	for _, i := range []int{0, 1, 2} {
		p.load(argHi(i))
		p.jeq(0, "", "deny")
	}
	p.load(argLo(2))
	p.jeq(mptcp, "noproto", "")
	p.load(argLo(0))
	if net.Unix {
		p.jeq(unix.AF_UNIX, "allow", "")
	}
	p.jeq(unix.AF_INET, "inet", "")
	p.jeq(unix.AF_INET6, "inet", "deny")
	p.label("inet")
	p.load(argLo(1))
	p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ^uint32(unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)})
	// In a network namespace of its own (Egress) UDP reaches only lo,
	// where the DNS stub listens: allowed there, and only there. UNIX
	// sockets stay as the profile says: a socket path reaches daemons of
	// the host's namespace, which the namespace does not close.
	udp := net.UDP || net.Egress != nil
	if udp {
		p.jeq(unix.SOCK_DGRAM, "dgram", "")
	}
	p.jeq(unix.SOCK_STREAM, "", "deny")
	p.load(argLo(2))
	p.jeq(0, "allow", "")
	p.jeq(unix.IPPROTO_TCP, "allow", "deny")
	if udp {
		p.label("dgram")
		p.load(argLo(2))
		p.jeq(0, "allow", "")
		p.jeq(unix.IPPROTO_UDP, "allow", "deny")
	}

	if off&AllowOtherProcesses == 0 {
		// setpriority(which, who, prio) and ioprio_set(which, who,
		// ioprio): a process or a process group, never a user (who 0 is
		// then the caller's uid: all of the user's processes); who must
		// be 0 or self. The cell's process groups lie in its own session,
		// which no process outside can join.
		p.label("prio")
		p.load(argLo(0))
		p.jeq(unix.PRIO_PROCESS, "who", "")
		p.jeq(unix.PRIO_PGRP, "who", "deny")
		p.label("ioprio")
		p.load(argLo(0))
		p.jeq(ioprioWhoProc, "who", "")
		p.jeq(ioprioWhoPgrp, "who", "deny")
		p.label("who")
		p.load(argLo(1))
		p.jeq(0, "allow", "")
		p.jeq(uint32(self), "allow", "deny")
		// The others name the process in their first argument.
		p.label("pid")
		p.load(argLo(0))
		p.jeq(0, "allow", "")
		p.jeq(uint32(self), "allow", "deny")
	}
	if off&AllowNamespaces == 0 {
		// clone's flags are its first argument on x86-64 and arm64
		// alike (s390 swaps them, and is refused by nativeArch).
		p.label("clone")
		p.load(argLo(0))
		p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: cloneNewFlags})
		p.jeq(0, "allow", "deny")
	}
	// sendto(fd, buf, len, flags, …) and sendmmsg(fd, vec, n, flags);
	// sendmsg(fd, msg, flags).
	p.label("fastopen3")
	p.load(argLo(3))
	p.jmp("fastopen")
	p.label("fastopen2")
	p.load(argLo(2))
	p.label("fastopen")
	p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: unix.MSG_FASTOPEN})
	p.jeq(0, "allow", "deny")
	if !net.Unix {
		// socketpair(domain, type, protocol): streams only (Node's and
		// Python's pipes to their children); a stream pair cannot be
		// disconnected.
		p.label("pair")
		p.load(argLo(1))
		p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ^uint32(unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)})
		p.jeq(unix.SOCK_STREAM, "allow", "deny")
	}
	if off&AllowSetID == 0 {
		// The mode is the second argument of chmod, fchmod, creat and
		// mknod, the third of the *at forms; open and openat read theirs
		// only when they create (with anything else in it, it is junk).
		p.label("open1")
		p.load(argLo(1))
		p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: createFlags})
		p.jeq(0, "allow", "mode2")
		p.label("open2")
		p.load(argLo(2))
		p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: createFlags})
		p.jeq(0, "allow", "mode3")
		p.label("mode1")
		p.load(argLo(1))
		p.jmp("setid")
		p.label("mode2")
		p.load(argLo(2))
		p.jmp("setid")
		p.label("mode3")
		p.load(argLo(3))
		p.label("setid")
		p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: setidBits})
		p.jeq(0, "allow", "deny")
	}
	if off&AllowExecMemfd == 0 {
		// memfd_create(name, flags): a memfd lies outside every path
		// Landlock rules, so it must be sealed against execution.
		p.label("memfd")
		p.load(argLo(1))
		p.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: memfdExecFlags})
		p.jeq(unix.MFD_NOEXEC_SEAL, "allow", "deny")
	}
	p.label("enosys")
	p.ret(enosys)
	p.label("noproto")
	p.ret(noproto)
	p.label("allow")
	p.ret(allow)
	p.label("deny")
	p.ret(eperm)
	return p.assemble()
}

// loadSeccomp installs the filter on the calling thread only: the helper
// calls it on its locked thread right before execve.
func loadSeccomp(prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return errors.New("empty seccomp program")
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return fmt.Errorf("loading the seccomp filter: %w", e)
	}
	return nil
}

// seccompAvailable reports whether this kernel takes seccomp filters:
// strict mode with a flag set is invalid (EINVAL) where seccomp exists.
func seccompAvailable() bool {
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_STRICT, 1, 0)
	return e == unix.EINVAL
}
