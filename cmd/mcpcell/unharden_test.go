package main

import (
	"os"
	"strings"

	"github.com/mcpcell/mcpcell/sandbox"
)

// unhardenEnv names, in the environment of mcpcell as a test binary
// starts it, the parts of the cell to switch off, comma-separated: the
// controls of the hostile-server tests. The mcpcell binary has no such
// knob.
const unhardenEnv = "MCPCELL_TEST_UNHARDEN"

// noTrustEnv, set to 1, makes mcpcell as a test binary starts it honour
// profiles and commands the trust store does not hold: the control of
// the trust tests. The mcpcell binary has no such knob.
const noTrustEnv = "MCPCELL_TEST_NO_TRUST"

var unhardenNames = map[string]sandbox.Unhardened{
	"caps":      sandbox.KeepCapabilities,
	"session":   sandbox.KeepSession,
	"processes": sandbox.AllowOtherProcesses,
	"clone":     sandbox.AllowNamespaces,
	"memfd":     sandbox.AllowExecMemfd,
	"reaper":    sandbox.NoReaper,
	"setid":     sandbox.AllowSetID,
}

// unhardened reads unhardenEnv; an unknown name stops the test binary
// rather than leaving the cell whole where a test expects it weakened.
func unhardened() sandbox.Unhardened {
	var off sandbox.Unhardened
	for _, name := range strings.Split(os.Getenv(unhardenEnv), ",") {
		if name == "" {
			continue
		}
		bit, ok := unhardenNames[name]
		if !ok {
			os.Stderr.WriteString("mcpcell (test): unknown " + unhardenEnv + " name " + name + "\n")
			os.Exit(2)
		}
		off |= bit
	}
	return off
}

// swapWrittenEnv names a file that the test binary, as wrap, renames over
// each profile it has just written, before it trusts it: what a server
// that may write the project does when it races wrap.
const swapWrittenEnv = "MCPCELL_TEST_SWAP_WRITTEN"

func swapWritten() func(string) {
	from := os.Getenv(swapWrittenEnv)
	if from == "" {
		return nil
	}
	return func(path string) {
		if err := os.Rename(from, path); err != nil {
			os.Stderr.WriteString("mcpcell (test): " + err.Error() + "\n")
			os.Exit(2)
		}
	}
}
