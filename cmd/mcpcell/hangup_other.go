//go:build !linux

package main

import "io"

// watchHangup is Linux-only: elsewhere the end of the client's input is
// noticed when mcpcell reads it.
func watchHangup(io.Reader, func()) {}
