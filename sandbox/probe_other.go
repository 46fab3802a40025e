//go:build !linux

package sandbox

import (
	"fmt"
	"os"
	"runtime"
)

// HelperCommand is the hidden subcommand that runs Helper.
const HelperCommand = "__cell"

// Probe reports that this system offers no cell.
func Probe(int, bool) Kernel { return Kernel{OS: runtime.GOOS} }

// Helper is Linux-only.
func Helper() int {
	fmt.Fprintf(os.Stderr, "mcpcell: error: the cell helper needs Linux, not %s\n", runtime.GOOS)
	return 126
}

// BecomeSubreaper does nothing here.
func BecomeSubreaper() error { return nil }

// KillDescendants does nothing here beyond the process group.
func KillDescendants(exclude int) int { return 0 }

// Run waits for stop: without /proc there is nothing to reap or count.
func (r Reaper) Run(stop <-chan struct{}) int {
	<-stop
	return 0
}
