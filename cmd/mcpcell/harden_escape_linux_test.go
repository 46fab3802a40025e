package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// escapeProcess tries one of the attacks on other processes, on the
// capabilities root keeps, on namespaces and on exec that issue 10 named;
// escape sends every name it does not know here. target is a pid, or as
// each case says.
func escapeProcess(what, target string) string {
	pid, _ := strconv.Atoi(target)
	errno := func(e syscall.Errno) error {
		if e != 0 {
			return e
		}
		return nil
	}
	switch what {
	// Calls that act on another process. Each sets what it reads, so
	// that it changes nothing where it works.
	case "prlimit": // the review's attack set RLIMIT_CPU to 1 s
		var old unix.Rlimit
		if err := unix.Prlimit(pid, unix.RLIMIT_CPU, nil, &old); err != nil {
			return outcome("", fmt.Errorf("reading: %w", err))
		}
		return outcome(fmt.Sprintf("set RLIMIT_CPU of %d", pid), unix.Prlimit(pid, unix.RLIMIT_CPU, &old, nil))
	case "setpriority", "ioprio_set": // target: "process|pgrp|user ID"
		kind, id, _ := strings.Cut(target, " ")
		who, _ := strconv.Atoi(id)
		which := map[string]int{"process": unix.PRIO_PROCESS, "pgrp": unix.PRIO_PGRP, "user": unix.PRIO_USER}[kind]
		get, set := uintptr(unix.SYS_GETPRIORITY), uintptr(unix.SYS_SETPRIORITY)
		if what == "ioprio_set" {
			which++ // IOPRIO_WHO_PROCESS is 1, …
			get, set = unix.SYS_IOPRIO_GET, unix.SYS_IOPRIO_SET
		}
		v, _, e := unix.Syscall(get, uintptr(which), uintptr(who), 0)
		if e != 0 {
			return outcome("", fmt.Errorf("reading: %w", e))
		}
		if what == "setpriority" {
			v = uintptr(20 - int(v)) // the kernel returns 20-nice
		}
		_, _, e = unix.Syscall(set, uintptr(which), uintptr(who), v)
		return outcome(fmt.Sprintf("%s of %s", what, target), errno(e))
	case "sched_setaffinity":
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(pid, &set); err != nil {
			return outcome("", fmt.Errorf("reading: %w", err))
		}
		return outcome("set the CPUs of "+target, unix.SchedSetaffinity(pid, &set))
	case "sched_setscheduler", "sched_setparam":
		policy, _, e := unix.Syscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(pid), 0, 0)
		var param [8]int32
		if e == 0 {
			_, _, e = unix.Syscall(unix.SYS_SCHED_GETPARAM, uintptr(pid), uintptr(unsafe.Pointer(&param[0])), 0)
		}
		if e != 0 {
			return outcome("", fmt.Errorf("reading: %w", e))
		}
		if what == "sched_setparam" {
			_, _, e = unix.Syscall(unix.SYS_SCHED_SETPARAM, uintptr(pid), uintptr(unsafe.Pointer(&param[0])), 0)
		} else {
			_, _, e = unix.Syscall(unix.SYS_SCHED_SETSCHEDULER, uintptr(pid), policy, uintptr(unsafe.Pointer(&param[0])))
		}
		return outcome(what+" of "+target, errno(e))
	case "sched_setattr":
		attr, err := unix.SchedGetAttr(pid, 0)
		if err != nil {
			return outcome("", fmt.Errorf("reading: %w", err))
		}
		return outcome("set the scheduling of "+target, unix.SchedSetAttr(pid, attr, 0))
	case "migrate_pages": // from node 0 to node 0: allowed or not, nothing moves
		mask := uint64(1)
		_, _, e := unix.Syscall6(unix.SYS_MIGRATE_PAGES, uintptr(pid), 64, uintptr(unsafe.Pointer(&mask)), uintptr(unsafe.Pointer(&mask)), 0, 0)
		return outcome("migrate_pages of "+target, errno(e))
	case "move_pages": // no pages: only the permission check
		_, _, e := unix.Syscall6(unix.SYS_MOVE_PAGES, uintptr(pid), 0, 0, 0, 0, 0)
		return outcome("move_pages of "+target, errno(e))
	case "kcmp":
		_, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(os.Getpid()), uintptr(pid), 1 /* KCMP_FILE */, 0, 0, 0)
		return outcome("compared a file of "+target, errno(e))
	case "get_robust_list":
		var head, size uintptr
		_, _, e := unix.Syscall(unix.SYS_GET_ROBUST_LIST, uintptr(pid), uintptr(unsafe.Pointer(&head)), uintptr(unsafe.Pointer(&size)))
		return outcome("read the robust futex list of "+target, errno(e))
	case "tgkill": // SIGURG: harmless to Go and to sleep
		return outcome("signalled", unix.Tgkill(pid, pid, unix.SIGURG))
	case "pidfd_send_signal", "pidfd_getfd", "process_madvise":
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return outcome("", fmt.Errorf("pidfd_open: %w", err))
		}
		defer unix.Close(fd)
		switch what {
		case "pidfd_send_signal":
			return outcome("signalled", unix.PidfdSendSignal(fd, unix.SIGURG, nil, 0))
		case "pidfd_getfd":
			got, err := unix.PidfdGetfd(fd, 0, 0)
			if err == nil {
				unix.Close(got)
			}
			return outcome("took fd 0 of "+target, err)
		}
		// A page nothing maps: ENOMEM says the permission checks passed
		// and the kernel looked into the target's address space.
		iov := struct{ base, len uintptr }{0x10000, 4096} // struct iovec
		_, _, e := unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1, unix.MADV_COLD, 0, 0)
		if e == unix.ENOMEM {
			e = 0
		}
		return outcome("process_madvise reached the memory of "+target, errno(e))

	// The session.
	case "setpgid": // join another process group
		return outcome("joined process group "+target, unix.Setpgid(0, pid))

	case "tiocsti": // type target into the controlling terminal's input
		fd, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return outcome("", err)
		}
		defer unix.Close(fd)
		for i := 0; i < len(target); i++ {
			c := target[i]
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSTI, uintptr(unsafe.Pointer(&c))); e != 0 {
				return outcome("", e)
			}
		}
		return outcome("typed into the terminal", nil)

	// What root could do with its capabilities.
	case "caps":
		return outcome(heldCapabilities())
	case "exec-caps": // a program the server runs; target: its argv
		out, err := runOutput(strings.Fields(target))
		if err != nil {
			return outcome("", err)
		}
		var held []string
		// A user other than root cannot empty its bounding set, and with
		// no_new_privs it gains nothing from it: there, CapBnd counts only
		// when NoNewPrivs is not 1.
		bounded := os.Geteuid() == 0 || !strings.Contains(out, "\nNoNewPrivs:\t1\n")
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(k, "Cap") && (k != "CapBnd" || bounded) && strings.Trim(strings.TrimSpace(v), "0") != "" {
				held = append(held, k+"="+strings.TrimSpace(v))
			}
		}
		if len(held) == 0 {
			return outcome("", errors.New("it holds no capability"))
		}
		return outcome("it holds "+strings.Join(held, " "), nil)
	case "sethostname": // the name it has: a change nobody sees
		var u unix.Utsname
		unix.Uname(&u)
		return outcome("set the host name", unix.Sethostname([]byte(unix.ByteSliceToString(u.Nodename[:]))))
	case "vhangup":
		_, _, e := unix.Syscall(unix.SYS_VHANGUP, 0, 0, 0)
		return outcome("hung up the controlling terminal", errno(e))
	case "chown": // give a file to nobody
		return outcome("gave "+target+" to uid 65534", os.Chown(target, 65534, 65534))

	// Namespaces: target names CLONE_NEW* flags, as "user,net".
	case "clone", "clone3":
		var flags uint64
		for _, f := range strings.Split(target, ",") {
			flags |= map[string]uint64{"ns": unix.CLONE_NEWNS, "uts": unix.CLONE_NEWUTS, "ipc": unix.CLONE_NEWIPC, "user": unix.CLONE_NEWUSER, "pid": unix.CLONE_NEWPID, "net": unix.CLONE_NEWNET, "cgroup": unix.CLONE_NEWCGROUP, "time": unix.CLONE_NEWTIME}[f]
		}
		var child int
		var e syscall.Errno
		if what == "clone" {
			child, e = rawClone(uintptr(flags) | uintptr(unix.SIGCHLD))
		} else {
			child, e = rawClone3(&cloneArgs{flags: flags, exitSignal: uint64(unix.SIGCHLD)})
		}
		if e != 0 {
			return outcome("", e)
		}
		var ws unix.WaitStatus
		unix.Wait4(child, &ws, 0, nil)
		return outcome(fmt.Sprintf("a child in new namespaces (%s)", target), nil)

	// Exec of a file no exec grant covers; target: an ELF the server can
	// read (a copy of true) that exits 0.
	case "exec-file":
		return outcome(execRaw(unix.AT_FDCWD, target, []string{target}, 0))
	case "fexecve-file":
		fd, err := unix.Open(target, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return outcome("", err)
		}
		defer unix.Close(fd)
		return outcome(execRaw(fd, "", []string{target}, unix.AT_EMPTY_PATH))
	case "memfd-exec", "memfd-exec-proc", "memfd-sealed-exec":
		flags := 0 // inherited by the child, for /proc/self/fd
		if what == "memfd-sealed-exec" {
			flags = unix.MFD_NOEXEC_SEAL
		}
		fd, err := unix.MemfdCreate("tool", flags)
		if err != nil {
			return outcome("", fmt.Errorf("memfd_create: %w", err))
		}
		defer unix.Close(fd)
		b, err := os.ReadFile(target)
		if err == nil {
			_, err = unix.Write(fd, b)
		}
		if err == nil {
			err = unix.Fchmod(fd, 0o755)
		}
		if err != nil {
			return outcome("", fmt.Errorf("filling the memfd: %w", err))
		}
		if what == "memfd-exec-proc" {
			path := fmt.Sprintf("/proc/self/fd/%d", fd)
			return outcome(execRaw(unix.AT_FDCWD, path, []string{path}, 0))
		}
		return outcome(execRaw(fd, "", []string{"tool"}, unix.AT_EMPTY_PATH))
	case "loader": // target: "LOADER FILE"
		ld, file, _ := strings.Cut(target, " ")
		return outcome(execRaw(unix.AT_FDCWD, ld, []string{ld, file}, 0))

	// Processes: target "N SECONDS".
	case "orphans", "forktree":
		a, b, _ := strings.Cut(target, " ")
		n, _ := strconv.Atoi(a)
		secs, _ := strconv.Atoi(b)
		ts := unix.Timespec{Sec: int64(secs)}
		if what == "orphans" {
			mid, e := rawOrphans(n, &ts)
			if e != 0 {
				return outcome("", e)
			}
			var ws unix.WaitStatus
			unix.Wait4(mid, &ws, 0, nil) // the orphans' parent is gone now
			return outcome(fmt.Sprintf("%d orphans that live %d s", n, secs), nil)
		}
		_, e := rawForkTree(n, &ts)
		return outcome(fmt.Sprintf("a tree of %d processes that live %d s", 1<<n, secs), errno(e))
	}
	return "unknown escape " + what
}

// heldCapabilities describes the capabilities the calling thread holds
// and whether root's way back to them is locked; it fails when it holds
// none and the way back is locked (or, for another user, does not exist).
func heldCapabilities() (string, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return "", err
	}
	var held []string
	set := func(name string, lo, hi uint32) {
		if lo|hi != 0 {
			held = append(held, fmt.Sprintf("%s=%x%08x", name, hi, lo))
		}
	}
	set("effective", data[0].Effective, data[1].Effective)
	set("permitted", data[0].Permitted, data[1].Permitted)
	set("inheritable", data[0].Inheritable, data[1].Inheritable)
	for c := 0; c < 64; c++ {
		if on, err := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(c), 0, 0); err == nil && on == 1 {
			held = append(held, fmt.Sprintf("ambient %d", c))
		}
	}
	bits, _ := unix.PrctlRetInt(unix.PR_GET_SECUREBITS, 0, 0, 0, 0)
	if os.Geteuid() == 0 {
		var bounding int
		for c := 0; c < 64; c++ {
			if on, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && on == 1 {
				bounding++
			}
		}
		if bounding > 0 {
			held = append(held, fmt.Sprintf("%d in the bounding set", bounding))
		}
		const locked = 0xef // NOROOT, NO_SETUID_FIXUP, KEEP_CAPS, NO_CAP_AMBIENT_RAISE: set (but KEEP_CAPS) and locked
		if bits&locked != locked {
			held = append(held, fmt.Sprintf("securebits %#x (root regains them at execve)", bits))
		}
	}
	if len(held) == 0 {
		return "", fmt.Errorf("no capabilities (securebits %#x)", bits)
	}
	return strings.Join(held, ", "), nil
}

// runOutput runs argv and returns its output.
func runOutput(argv []string) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{Files: []*os.File{nil, w, os.Stderr}})
	w.Close()
	if err != nil {
		r.Close()
		return "", err
	}
	var out strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
	}
	r.Close()
	p.Wait()
	return out.String(), nil
}

// execRaw runs path (at dirfd, with execveat's flags) in a child forked
// by a raw clone, so that the exec is exactly the call named, and returns
// what happened: its exit status (true exits 0), or the error execveat
// returned in the child.
func execRaw(dirfd int, path string, argv []string, flags int) (string, error) {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return "", err
	}
	av, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return "", err
	}
	env := []*byte{nil}
	child, e := rawExecveat(dirfd, p, &av[0], &env[0], flags)
	if e != 0 {
		return "", e
	}
	var ws unix.WaitStatus
	unix.Wait4(child, &ws, 0, nil)
	if code := ws.ExitStatus(); code >= 100 {
		return "", syscall.Errno(code - 100)
	} else if code != 0 || !ws.Exited() {
		return "", fmt.Errorf("it ran, with status %v", ws)
	}
	return "it ran", nil
}

// The raw forks below run nothing but system calls in the child, which is
// a copy of one thread of a Go program: no Go runtime, no allocation, no
// stack growth (nosplit) and no race-detector calls (norace).

//go:norace
//go:nosplit
func rawClone(flags uintptr) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, flags, 0, 0, 0, 0, 0)
	if e == 0 && r == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return int(r), e
}

// cloneArgs is struct clone_args, its first version (64 bytes).
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
}

//go:norace
//go:nosplit
func rawClone3(args *cloneArgs) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(args)), unsafe.Sizeof(*args), 0)
	if e == 0 && r == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return int(r), e
}

// rawExecveat forks a child that calls execveat and, if that fails, exits
// with 100 + its errno.
//
//go:norace
//go:nosplit
func rawExecveat(dirfd int, path *byte, argv, envv **byte, flags int) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e == 0 && r == 0 {
		_, _, e = syscall.RawSyscall6(unix.SYS_EXECVEAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(argv)), uintptr(unsafe.Pointer(envv)), uintptr(flags), 0)
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 100+uintptr(e), 0, 0)
	}
	return int(r), e
}

// rawOrphans forks a child that forks n children, each of which sleeps
// *ts and exits, and exits itself at once: the n become orphans.
//
//go:norace
//go:nosplit
func rawOrphans(n int, ts *unix.Timespec) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 || r != 0 {
		return int(r), e
	}
	for i := 0; i < n; i++ {
		c, _, _ := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if c == 0 {
			syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(ts)), 0, 0)
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
	}
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	return 0, 0
}

// rawForkTree forks a child that forks, and each of its processes forks
// again, depth times in all: 2^depth processes, each of which sleeps *ts
// and exits. It is a fork bomb with a bound.
//
//go:norace
//go:nosplit
func rawForkTree(depth int, ts *unix.Timespec) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 || r != 0 {
		return int(r), e
	}
	for i := 0; i < depth; i++ {
		syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	}
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(ts)), 0, 0)
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	return 0, 0
}
