//go:build unix

package audit

import (
	"os"
	"syscall"
)

// lock takes the file's advisory lock, so that sessions sharing one log
// keep one chain.
func lock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }

func unlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
