package main

import (
	"strconv"

	"github.com/mcpcell/mcpcell/internal/hopper"
)

// runHopper is __hopper MS FILE: a process that keeps changing its pid
// (see package hopper).
func runHopper(args []string) {
	ms, _ := strconv.Atoi(args[0])
	hopper.Run(ms, args[1])
}
