//go:build !pprof

package main

// startProfile does nothing: runtime/pprof (and the compression it
// brings, initialised in every start) is only in builds with -tags pprof.
func startProfile(string) func() { return func() {} }
