package sandbox

import (
	"os/exec"
	"syscall"
)

// setProcAttr gives the server its own process group, so that stopping
// it reaches its children, and kills it if mcpcell dies.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
