package sandbox

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Probe reads what the running kernel offers. pretendABI > 0 lowers the
// Landlock ABI it reports, and pretendNoSeccomp hides seccomp (tests).
func Probe(pretendABI int, pretendNoSeccomp bool) Kernel {
	var u unix.Utsname
	unix.Uname(&u)
	k := Kernel{OS: "linux", Release: unix.ByteSliceToString(u.Release[:]), LandlockABI: landlockABI(), Seccomp: seccompAvailable() && !pretendNoSeccomp}
	if pretendABI > 0 {
		k.LandlockABI = min(k.LandlockABI, pretendABI)
	}
	if _, err := nativeArch(); err != nil {
		k.Arch = runtime.GOARCH
	}
	return k
}
