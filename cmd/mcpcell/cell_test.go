package main

import (
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/sandbox"
)

func TestCellVerdict(t *testing.T) {
	full := sandbox.Kernel{OS: "linux", LandlockABI: 7, Seccomp: true}
	old := sandbox.Kernel{OS: "linux", LandlockABI: 3, Seccomp: true}
	mac := sandbox.Kernel{OS: "darwin"}
	for _, c := range []struct {
		name                 string
		k                    sandbox.Kernel
		required, bestEffort bool
		want                 verdict
		msg                  string
	}{
		{"full kernel", full, true, false, fullCell, ""},
		{"old kernel", old, true, false, refuseCell, "needs Landlock ABI 4"},
		{"old kernel, best effort", old, true, true, weakerCell, "does not enforce"},
		{"macOS", mac, true, false, refuseCell, "cannot confine a server on darwin"},
		{"macOS, best effort is not enough", mac, true, true, refuseCell, "darwin"},
		{"macOS, required = false", mac, false, false, weakerCell, "runs unconfined on darwin"},
	} {
		v, msg := cellVerdict(c.k, c.k.Gaps(sandbox.Net{}, ""), c.required, c.bestEffort)
		if v != c.want || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %v %q, want %v containing %q", c.name, v, msg, c.want, c.msg)
		}
	}
}
