//go:build linux

package sandbox

import "golang.org/x/sys/unix"

var archSyscalls = map[string]uint32{
	"iopl":   unix.SYS_IOPL,
	"ioperm": unix.SYS_IOPERM,
}
