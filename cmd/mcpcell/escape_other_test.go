//go:build !linux

package main

import "encoding/json"

// escape is Linux-only: the cell is.
func escape(what, target string) string { return "unsupported escape " + what }

// egressTry is Linux-only: the cell's own network namespace is.
func egressTry(raw json.RawMessage) string { return "unsupported egress try" }
