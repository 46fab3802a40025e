//go:build !linux

package main

// escape is Linux-only: the cell is.
func escape(what, target string) string { return "unsupported escape " + what }
