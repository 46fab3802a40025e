package sandbox

import (
	"os/exec"
	"syscall"
)

// setProcAttr starts the server in a session of its own (and so its own
// process group, which stopping it signals), and kills it if mcpcell
// dies. A session of its own leaves it no controlling terminal, and no way
// to join a process group of mcpcell's session: setpgid stays inside a
// session. KeepSession (tests' controls) gives it only its own group.
func setProcAttr(cmd *exec.Cmd, off Unhardened) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: off&KeepSession == 0, Setpgid: off&KeepSession != 0, Pdeathsig: syscall.SIGKILL}
}
