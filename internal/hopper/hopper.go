//go:build linux

// Package hopper is a test helper: a process that keeps changing its pid,
// as fast as the kernel forks (it forks, the parent exits, the child goes
// on), to test that a sweep of a process tree cannot be outrun. Tests run
// it by re-executing their own binary and calling Run, then read what it
// left with Result and Find. It is Linux-only, used by sandbox's and
// mcpcell's tests; mcpcell itself never imports it.
package hopper

import (
	"encoding/binary"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Run hops: it starts a session of its own, ignores SIGTERM and SIGHUP,
// and hops for ms milliseconds. Then it stops, writes its pid and how
// many times it hopped to file (an absolute path; see Result), and
// sleeps 30 s, so that a survivor leaves that file behind. It never
// returns.
func Run(ms int, file string) {
	signal.Ignore(syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	syscall.Setsid()
	path = append([]byte(file), 0)
	var now syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&now)), 0)
	until = now.Nano() + int64(ms)*1e6
	hop()
}

// Globals, not locals: after the first fork only one thread is left and
// no Go runtime to speak of, so hop must not allocate or grow its stack.
var (
	until  int64
	path   []byte // NUL-terminated
	clock  syscall.Timespec
	nap    = syscall.Timespec{Sec: 30}
	report [2]int64 // pid, hops
	cwd    = unix.AT_FDCWD
)

// hop forks with raw system calls only, as os/exec's child does between
// fork and exec.
//
//go:nosplit
//go:norace
func hop() {
	for {
		syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&clock)), 0) // CLOCK_MONOTONIC
		if clock.Sec*1e9+clock.Nsec >= until {
			break
		}
		pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if errno == 0 && pid != 0 {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
		if errno == 0 {
			report[1]++
		}
	}
	pid, _, _ := syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	report[0] = int64(pid)
	fd, _, errno := syscall.RawSyscall6(syscall.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(&path[0])), syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC, 0o600, 0, 0)
	if errno == 0 {
		syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&report)), unsafe.Sizeof(report))
		syscall.RawSyscall(syscall.SYS_CLOSE, fd, 0, 0)
	}
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&nap)), 0, 0)
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
}

// Result reads what a hopper that stopped hopping wrote to file: its pid
// and how many times it hopped; ok is false if it wrote nothing.
func Result(file string) (pid, hops int, ok bool) {
	b, err := os.ReadFile(file)
	if err != nil || len(b) != 16 {
		return 0, 0, false
	}
	return int(binary.LittleEndian.Uint64(b)), int(binary.LittleEndian.Uint64(b[8:])), true
}

// Find lists the processes whose command line holds file: hoppers that
// were started with it, and have stopped hopping or not.
func Find(file string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.Contains(string(b), file) {
			out = append(out, pid)
		}
	}
	return out
}
