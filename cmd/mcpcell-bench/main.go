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
