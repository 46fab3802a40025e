package sandbox

import (
	"math"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// setProcAttr starts the server in a session of its own (and so its own
// process group, which stopping it signals), and kills it if mcpcell
// dies. A session of its own leaves it no controlling terminal, and no way
// to join a process group of mcpcell's session: setpgid stays inside a
// session. KeepSession (tests' controls) gives it only its own group.
//
// With egress, the helper starts in a user and network namespace of its
// own (see namespaceAttr).
func setProcAttr(cmd *exec.Cmd, off Unhardened, egress bool) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: off&KeepSession == 0, Setpgid: off&KeepSession != 0, Pdeathsig: syscall.SIGKILL}
	if egress {
		namespaceAttr(cmd.SysProcAttr, os.Geteuid(), os.Getegid())
	}
}

// namespaceAttr puts the child in a new user and network namespace, whose
// uid and gid maps os/exec writes from the parent (setgroups denied, as
// an unprivileged parent must).
//
// A user but root maps its own uid and gid to themselves, the one map
// it may write: the helper is then not uid 0 inside, and execve would
// empty its capabilities, so CAP_NET_ADMIN (lo, addresses) and
// CAP_NET_BIND_SERVICE (ports below 1024: the namespace's own
// ip_unprivileged_port_start is 1024) are passed as ambient ones, which
// the helper clears with the rest before it execs the server.
//
// Root maps the whole range: in a map of uid 0 alone, root would lose its
// override of other users' file permissions (capabilities in a user
// namespace apply only to inodes whose owner is mapped), and the helper
// could not open a granted folder of another user.
func namespaceAttr(a *syscall.SysProcAttr, euid, egid int) {
	a.Cloneflags |= syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET
	if euid == 0 {
		const all = min(1<<32-1, math.MaxInt) // every id but -1
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: all}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: all}}
		return
	}
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: euid, HostID: euid, Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: egid, HostID: egid, Size: 1}}
	a.AmbientCaps = []uintptr{unix.CAP_NET_ADMIN, unix.CAP_NET_BIND_SERVICE}
}
