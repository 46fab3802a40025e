package trust

import (
	"os"
	"syscall"
)

// statOf fills e's device, inode and times from st.
func statOf(st os.FileInfo, e *Exe) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		e.Dev, e.Ino = uint64(s.Dev), s.Ino
		e.Mtime = s.Mtim.Nano()
		e.Ctime = s.Ctim.Nano()
	}
}
