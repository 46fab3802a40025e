//go:build unix && !linux

package sandbox

import (
	"os/exec"
	"syscall"
)

func setProcAttr(cmd *exec.Cmd, _ Unhardened) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
