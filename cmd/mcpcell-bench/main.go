// Command mcpcell-bench measures what the cell costs: the same server
// spawned directly, through mcpcell run with the full cell (Landlock,
// seccomp, policy, audit log), through srt (@anthropic-ai/sandbox-runtime)
// where installed, and, as the floors of any relay, through a plain cat
// relay and a Go relay (io.Copy both ways).
// Runs alternate between the ways; it reports medians, p99s and ratios to
// direct as a Markdown table. See docs/benchmarks.md.
//
//	CGO_ENABLED=0 go build -o /tmp/mcpcell ./cmd/mcpcell && go build -o /tmp/mcpcell-bench ./cmd/mcpcell-bench
//	/tmp/mcpcell-bench -mcpcell /tmp/mcpcell
//
// mcpcell-bench serve is the benchmark's own fast MCP server;
// mcpcell-bench relay CMD... is the Go relay.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serve())
	}
	if len(os.Args) > 1 && os.Args[1] == "relay" {
		os.Exit(relay(os.Args[2:]))
	}
	var o options
	flag.StringVar(&o.mcpcell, "mcpcell", "mcpcell", "the mcpcell executable")
	flag.StringVar(&o.srt, "srt", "", "the srt executable (default: testdata/node's, if installed)")
	flag.StringVar(&o.everything, "everything", "", "server-everything's dist/index.js (default: testdata/node's, if installed)")
	flag.BoolVar(&o.short, "short", false, "a quick run that checks the harness works, not how fast")
	flag.StringVar(&o.out, "o", "", "also write the Markdown table to this file")
	only := flag.String("only", "", "run only the scenarios whose names match this regular expression")
	flag.Parse()
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mcpcell-bench: error: -only:", err)
			os.Exit(2)
		}
		o.only = re
	}
	if err := o.run(); err != nil {
		fmt.Fprintln(os.Stderr, "mcpcell-bench: error:", err)
		os.Exit(1)
	}
}
