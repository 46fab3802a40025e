//go:build linux

package sandbox

import "golang.org/x/sys/unix"

var archSyscalls = map[string]uint32{
	"iopl":   unix.SYS_IOPL,
	"ioperm": unix.SYS_IOPERM,
	// Filtered on their arguments; arm64 has only the *at forms.
	"chmod": unix.SYS_CHMOD,
	"open":  unix.SYS_OPEN,
	"creat": unix.SYS_CREAT,
	"mknod": unix.SYS_MKNOD,
}
