//go:build !unix

package main

func orphan([]string) {}
