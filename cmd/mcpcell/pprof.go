//go:build pprof

package main

import (
	"os"
	"runtime/pprof"
)

// startProfile writes a pprof CPU profile of the session to path, when
// set (MCPCELL_CPUPROFILE, in a build with -tags pprof; see
// docs/benchmarks.md). It returns what stops it.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil || pprof.StartCPUProfile(f) != nil {
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
