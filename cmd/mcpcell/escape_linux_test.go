package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// outcome is an attempt's answer: "ok: detail", or "denied: err".
func outcome(detail string, err error) string {
	if err != nil {
		return "denied: " + err.Error()
	}
	return "ok: " + detail
}

// escape tries one way out of the cell and says how it went: "ok: …" or
// "denied: …". It runs inside the fake server, in the cell.
func escape(what, target string) string {
	// socket opens (and closes) a socket of a family the cell refuses.
	socket := func(domain, typ, proto int, detail string) string {
		fd, err := unix.Socket(domain, typ, proto)
		if err == nil {
			unix.Close(fd)
		}
		return outcome(detail, err)
	}
	switch what {
	case "read": // a file, a symlink, or a hard link
		b, err := os.ReadFile(target)
		return outcome(strings.TrimSpace(string(b)), err)
	case "write":
		return outcome("wrote", os.WriteFile(target, []byte("escaped\n"), 0o644))
	case "hardlink": // target: "OLD NEW"; then read NEW
		old, new, _ := strings.Cut(target, " ")
		if err := os.Link(old, new); err != nil {
			return outcome("", err)
		}
		b, err := os.ReadFile(new)
		return outcome(strings.TrimSpace(string(b)), err)
	case "tcp":
		c, err := net.Dial("tcp", target)
		if err == nil {
			c.Close()
		}
		return outcome("connected", err)
	case "listen":
		l, err := net.Listen("tcp4", target)
		if err == nil {
			l.Close()
		}
		return outcome("listening", err)
	case "mptcp-connect", "mptcp-listen":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 262)
		if err != nil {
			return outcome("", fmt.Errorf("socket: %w", err))
		}
		defer unix.Close(fd)
		if what == "mptcp-listen" {
			if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				return outcome("", err)
			}
			return outcome("listening", unix.Listen(fd, 1))
		}
		port, _ := strconv.Atoi(target[strings.LastIndexByte(target, ':')+1:])
		return outcome("connected", unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
	case "tcp-fastopen": // sendto with MSG_FASTOPEN connects without connect()
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			return outcome("", fmt.Errorf("socket: %w", err))
		}
		defer unix.Close(fd)
		port, _ := strconv.Atoi(target[strings.LastIndexByte(target, ':')+1:])
		err = unix.Sendto(fd, []byte("escaped"), unix.MSG_FASTOPEN, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		return outcome("sent with MSG_FASTOPEN", err)
	case "listen-unbound": // listen() binds an ephemeral port itself
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			return outcome("", fmt.Errorf("socket: %w", err))
		}
		defer unix.Close(fd)
		if err := unix.Listen(fd, 1); err != nil {
			return outcome("", err)
		}
		sa, _ := unix.Getsockname(fd)
		return outcome(fmt.Sprintf("listening on %v", sa.(*unix.SockaddrInet4).Port), nil)
	case "unix-dgram-pair": // a socketpair's datagram socket, disconnected, sends to a path
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
		if err != nil {
			return outcome("", fmt.Errorf("socketpair: %w", err))
		}
		defer unix.Close(fds[0])
		defer unix.Close(fds[1])
		// connect(AF_UNSPEC) dissolves the pair; x/sys has no AF_UNSPEC
		// address, so the call is made raw.
		var unspec [16]byte // a struct sockaddr with sa_family 0
		if _, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fds[0]), uintptr(unsafe.Pointer(&unspec[0])), uintptr(len(unspec))); e != 0 {
			return outcome("", fmt.Errorf("disconnecting: %w", e))
		}
		return outcome("sent", unix.Sendto(fds[0], []byte("escaped"), 0, &unix.SockaddrUnix{Name: target}))
	case "setuid-chmod", "setuid-create": // a set-user-ID file for users outside the cell to run
		if what == "setuid-create" {
			fd, err := unix.Open(target, unix.O_CREAT|unix.O_WRONLY|unix.O_EXCL, 0o4755)
			if err != nil {
				return outcome("", err)
			}
			unix.Close(fd)
		} else {
			if err := os.WriteFile(target, []byte("#!/bin/sh\n"), 0o755); err != nil {
				return outcome("", err)
			}
			if err := unix.Chmod(target, 0o4755); err != nil {
				return outcome("", err)
			}
		}
		var st unix.Stat_t
		if err := unix.Stat(target, &st); err != nil {
			return outcome("", err)
		}
		if st.Mode&unix.S_ISUID == 0 {
			return outcome("", errors.New("the set-user-ID bit did not stick"))
		}
		return outcome(fmt.Sprintf("mode %o", st.Mode&0o7777), nil)
	case "udp":
		c, err := net.Dial("udp", target)
		if err != nil {
			return outcome("", err)
		}
		defer c.Close()
		_, err = c.Write([]byte("escaped"))
		return outcome("sent", err)
	case "raw":
		return socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, "raw socket")
	case "packet":
		return socket(unix.AF_PACKET, unix.SOCK_RAW, 0, "packet socket")
	case "netlink":
		return socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE, "netlink socket")
	case "unix": // pathname, or @abstract
		c, err := net.Dial("unix", target)
		if err == nil {
			c.Close()
		}
		return outcome("connected", err)
	case "io_uring":
		params := make([]byte, 120)
		fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		if e != 0 {
			return outcome("", e)
		}
		unix.Close(int(fd))
		return outcome("io_uring ring", nil)
	case "kill": // SIGURG is harmless to a Go process, but needs the right to signal it
		pid, _ := strconv.Atoi(target)
		return outcome("signalled", syscall.Kill(pid, syscall.SIGURG))
	case "environ":
		b, err := os.ReadFile("/proc/" + target + "/environ")
		return outcome(fmt.Sprintf("%d bytes", len(b)), err)
	case "env":
		v, ok := os.LookupEnv(target)
		if !ok {
			return outcome("", errors.New("not set"))
		}
		return outcome(v, nil)
	case "ptrace":
		pid, _ := strconv.Atoi(target)
		if err := unix.PtraceAttach(pid); err != nil {
			return outcome("", err)
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WALL, nil)
		return outcome("attached", unix.PtraceDetach(pid))
	case "fds": // files open beyond 0, 1 and 2 that are pipes or sockets
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return outcome("", err)
		}
		var leaked []string
		for _, e := range ents {
			n, _ := strconv.Atoi(e.Name())
			link, _ := os.Readlink("/proc/self/fd/" + e.Name())
			if n > 2 && (strings.HasPrefix(link, "pipe:") || strings.HasPrefix(link, "socket:")) {
				leaked = append(leaked, e.Name()+"->"+link)
			}
		}
		return outcome(strings.Join(leaked, " "), nil)
	case "keyctl":
		_, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
		return outcome("session keyring", err)
	}
	return escapeProcess(what, target)
}
