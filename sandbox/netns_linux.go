package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nsError is a failed step of the namespace's set-up in the helper: the
// parent diagnoses it (see diagnose).
type nsError struct {
	step  string
	errno syscall.Errno
}

func (e *nsError) Error() string { return e.step + ": " + e.errno.Error() }

func stepFailed(step string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return &nsError{step, errno}
	}
	return fmt.Errorf("%s: %w", step, err)
}

// setUpNamespace runs in the helper, in its own user and network
// namespace, while it still holds CAP_NET_ADMIN there: it brings lo up,
// adds e.Addrs to it, binds e.Listen in order and returns the sockets.
func setUpNamespace(e *Egress) (fds []int, err error) {
	lo, err := loIndex()
	if err != nil {
		return nil, stepFailed(stepLoUp, err)
	}
	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, stepFailed(stepLoUp, fmt.Errorf("netlink socket: %w", err))
	}
	defer unix.Close(nl)
	// RTM_NEWLINK without NLM_F_CREATE: change the flags of lo, which
	// exists in every network namespace.
	link := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: lo, Flags: unix.IFF_UP, Change: unix.IFF_UP}
	if err := netlinkRequest(nl, unix.RTM_NEWLINK, 0, unsafe.Slice((*byte)(unsafe.Pointer(&link)), unix.SizeofIfInfomsg)); err != nil {
		return nil, stepFailed(stepLoUp+": RTM_NEWLINK", err)
	}
	for _, a := range e.Addrs {
		if err := addAddress(nl, lo, a); err != nil {
			return nil, stepFailed(fmt.Sprintf("adding %s to lo: RTM_NEWADDR", a), err)
		}
	}
	defer func() {
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			fds = nil
		}
	}()
	for _, l := range e.Listen {
		fd, err := bindListen(l)
		if err != nil {
			return fds, stepFailed("binding "+l.String(), err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// loIndex is lo's interface index.
func loIndex() (int32, error) {
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return 0, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("SIOCGIFINDEX lo: %w", err)
	}
	return int32(ifr.Uint32()), nil
}

// addAddress adds a host address (/32 or /128) to lo.
func addAddress(nl int, lo int32, a netip.Addr) error {
	a = a.Unmap()
	family, bits := unix.AF_INET, 32
	if a.Is6() {
		family, bits = unix.AF_INET6, 128
	}
	msg := unix.IfAddrmsg{Family: uint8(family), Prefixlen: uint8(bits), Scope: unix.RT_SCOPE_HOST, Index: uint32(lo)}
	if a.Is6() {
		msg.Flags = unix.IFA_F_NODAD
	}
	body := append([]byte{}, unsafe.Slice((*byte)(unsafe.Pointer(&msg)), unix.SizeofIfAddrmsg)...)
	for _, typ := range []uint16{unix.IFA_LOCAL, unix.IFA_ADDRESS} {
		body = appendAttr(body, typ, a.AsSlice())
	}
	return netlinkRequest(nl, unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, body)
}

func appendAttr(b []byte, typ uint16, data []byte) []byte {
	n := unix.SizeofRtAttr + len(data)
	b = binary.NativeEndian.AppendUint16(b, uint16(n))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%unix.NLMSG_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// netlinkRequest sends one request and reads its acknowledgement: an
// NLMSG_ERROR whose error is 0, or else -errno.
func netlinkRequest(nl int, typ uint16, flags uint16, body []byte) error {
	const seq = 1
	msg := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+len(body)))
	msg = binary.NativeEndian.AppendUint16(msg, typ)
	msg = binary.NativeEndian.AppendUint16(msg, unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	msg = binary.NativeEndian.AppendUint32(msg, seq)
	msg = binary.NativeEndian.AppendUint32(msg, 0)
	msg = append(msg, body...)
	if err := unix.Sendto(nl, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(nl, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Seq != seq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return errors.New("short netlink acknowledgement")
			}
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				return syscall.Errno(-code)
			}
			return nil
		}
	}
}

// bindListen binds one socket of Egress.Listen: TCP listening, or UDP.
func bindListen(l Listen) (int, error) {
	a := l.Addr.Addr().Unmap()
	family := unix.AF_INET
	var sa unix.Sockaddr
	if a.Is6() {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(l.Addr.Port()), Addr: a.As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: int(l.Addr.Port()), Addr: a.As4()}
	}
	typ := unix.SOCK_STREAM
	if l.UDP {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	err = unix.Bind(fd, sa)
	if err == nil && !l.UDP {
		err = unix.Listen(fd, unix.SOMAXCONN)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// sendSockets hands the namespace's sockets to mcpcell in one message of
// the status socket, with an 'l' report of their count.
func sendSockets(status *os.File, fds []int) error {
	conn, err := status.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = conn.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), encodeReport(report{Sockets: len(fds)}), unix.UnixRights(fds...), nil, 0)
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}

// netNamespace is the inode of the calling process's network namespace.
func netNamespace() uint64 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return 0
	}
	return st.Ino
}
