package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// statusPair is the helper's status channel: a datagram-like socket pair
// (one report per message) that can carry the namespace's sockets
// (SCM_RIGHTS). Both ends close at execve; ours reads EOF then.
func statusPair() (ours, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("making the status socket: %w", err)
	}
	// Ours alone is non-blocking, so that Go's poller waits on it.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("making the status socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "status"), os.NewFile(uintptr(fds[1]), "status"), nil
}

// maxSockets bounds the sockets one status message may carry: the
// control buffer is sized for it, and a message with more is truncated
// (MSG_CTRUNC), which readStatus refuses.
const maxSockets = 1024

// readStatus reads the helper's reports until it execs the server or
// dies (EOF), and the sockets that came with an 'l' report. It keeps them
// only when they are the first such message and their count is want
// (len(Egress.Listen)); every other file descriptor it receives it closes,
// and says why in problem.
func readStatus(f *os.File, want int) (data []byte, sockets []*os.File, problem string) {
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, nil, "reading the cell helper's status: " + err.Error()
	}
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(maxSockets*4))
	fail := func(msg string) {
		if problem == "" {
			problem = msg
		}
	}
	for {
		var n, oobn, flags int
		var rerr error
		err := conn.Read(func(fd uintptr) bool {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			return rerr != unix.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			fail("reading the cell helper's status: " + err.Error())
			break
		}
		fds := receivedFDs(oob[:oobn])
		if n == 0 && oobn == 0 {
			break // EOF: the helper exec'd the server, or died
		}
		msg := buf[:n]
		data = append(data, msg...)
		switch {
		case flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0:
			fail("the cell helper's status message was truncated")
		case len(fds) > 0 && (len(msg) == 0 || msg[0] != 'l'):
			fail(fmt.Sprintf("the cell helper sent %d file descriptors with a report that carries none", len(fds)))
		case len(fds) > 0 && sockets != nil:
			fail("the cell helper sent its sockets twice")
		case len(msg) > 0 && msg[0] == 'l':
			r := &rbuf{b: msg[1:]}
			if said := r.uint(); r.err != nil || len(r.b) > 0 || said != uint64(len(fds)) {
				fail(fmt.Sprintf("the cell helper sent %d sockets with a report that does not count them", len(fds)))
			} else if len(fds) != want || want == 0 {
				fail(fmt.Sprintf("the cell helper sent %d sockets, want %d", len(fds), want))
			} else {
				for _, fd := range fds {
					sockets = append(sockets, os.NewFile(uintptr(fd), "cell socket"))
				}
				fds = nil
			}
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	if problem != "" {
		for _, s := range sockets {
			s.Close()
		}
		sockets = nil
	}
	return data, sockets, problem
}

// receivedFDs are the file descriptors of every SCM_RIGHTS message in oob.
func receivedFDs(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}
