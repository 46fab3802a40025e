//go:build unix

package main

import (
	"os/signal"
	"syscall"
	"time"
)

// orphan is a grandchild that will not go quietly.
func orphan(args []string) {
	signal.Ignore(syscall.SIGTERM, syscall.SIGHUP)
	if len(args) > 0 && args[0] == "setsid" {
		syscall.Setsid()
	}
	for {
		time.Sleep(time.Hour) // not select{}: Go would call that a deadlock and exit
	}
}
