//go:build race

package keystore

// raceDetector is set in a build with the race detector, which slows the
// single-goroutine tests of many forms some tenfold and finds nothing in
// them: they take a sample.
const raceDetector = true
