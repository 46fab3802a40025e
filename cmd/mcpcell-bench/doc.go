// Command mcpcell-bench measures what the cell costs: the same server
// spawned directly, through mcpcell run with the full cell (Landlock,
// seccomp, policy, audit log), through srt (@anthropic-ai/sandbox-runtime)
// where installed, and, as the floors of any relay, through a plain cat
// relay and a Go relay (io.Copy both ways). A cell with [network] hosts
// (its own network namespace and mcpcell's relay) is measured at start-up
// and downloading 16 MiB from the harness's HTTP server on 127.0.0.1.
// Runs alternate between the ways; it reports medians, p99s and ratios to
// direct as a Markdown table. See docs/benchmarks.md.
//
//	CGO_ENABLED=0 go build -o /tmp/mcpcell ./cmd/mcpcell && go build -o /tmp/mcpcell-bench ./cmd/mcpcell-bench
//	/tmp/mcpcell-bench -mcpcell /tmp/mcpcell
//
// mcpcell-bench serve is the benchmark's own fast MCP server;
// mcpcell-bench relay CMD... is the Go relay.
//
// # Where a new thing goes
//
// A new measurement is a method of bench (bench.go) that adds its rows
// (with a target and a verdict where docs/benchmarks.md sets one) and is
// called from run; the line client is session.go, the table and its
// statistics table.go, the fast server server.go. A new way to start a server is a
// mode (options.modes, or relays for a floor, in options.go, with the
// set-up: the programs found and the profile written).
//
// # What it does not do
//
// It is no test: -short checks that every way measured every scenario
// (CI runs it so), not how fast. It needs Linux, and it tunes nothing:
// numbers from a loaded machine are noise.
package main
