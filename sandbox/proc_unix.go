//go:build unix

package sandbox

import (
	"os/exec"
	"syscall"
)

func terminate(cmd *exec.Cmd) { syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

func kill(cmd *exec.Cmd) { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

func signalCode(ee *exec.ExitError) int {
	var ws syscall.WaitStatus
	if st, ok := ee.Sys().(syscall.WaitStatus); ok {
		ws = st
	} else {
		return 0
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return 0
}
