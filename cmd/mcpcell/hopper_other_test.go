//go:build !linux

package main

func runHopper([]string) {}
