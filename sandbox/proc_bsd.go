//go:build unix && !linux

package sandbox

import (
	"os/exec"
	"syscall"
)

// setProcAttr: egress never gets here (spawn refuses it elsewhere than
// Linux).
func setProcAttr(cmd *exec.Cmd, _ Unhardened, _ bool) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
