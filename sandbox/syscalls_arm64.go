//go:build linux

package sandbox

var archSyscalls = map[string]uint32{}
