//go:build unix

package trust

import (
	"os"
	"syscall"
)

// flock takes the file's advisory lock: sessions and mcpcell trust update
// one record at a time.
func flock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }

func funlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
