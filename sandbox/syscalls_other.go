//go:build linux && !amd64 && !arm64

package sandbox

// No filter is built on this architecture (nativeArch refuses it).
var syscallNumbers, archSyscalls = map[string]uint32{}, map[string]uint32{}
