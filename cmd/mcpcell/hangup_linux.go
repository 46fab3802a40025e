package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// watchHangup calls hungUp once the client hangs up its end of in: the
// write end of a pipe closed (Python's and Go's SDKs), or a socket shut
// down for writing or closed (Node's, whose end() is shutdown(SHUT_WR)).
// It does not wait for mcpcell to read what the client sent first: a
// server that stops reading stops mcpcell reading too, which would hide
// the end of the input. Input that is neither a pipe nor a socket (a
// file, /dev/null, a terminal) is not watched: its end is read.
func watchHangup(in io.Reader, hungUp func()) {
	f, ok := in.(*os.File)
	if !ok {
		return
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// The number only, not f.Fd(), which would make the file blocking.
	fd := -1
	rc.Control(func(p uintptr) { fd = int(p) })
	go func() {
		for {
			// POLLHUP and POLLERR come whatever is asked; POLLIN is not
			// asked, so unread input does not wake this.
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
			_, err := unix.Poll(fds, -1)
			switch {
			case err == unix.EINTR:
			case err != nil || fds[0].Revents&unix.POLLNVAL != 0:
				return
			case fds[0].Revents&(unix.POLLHUP|unix.POLLRDHUP|unix.POLLERR) != 0:
				hungUp()
				return
			}
		}
	}()
}
