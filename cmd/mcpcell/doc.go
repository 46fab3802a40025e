// Command mcpcell runs a local MCP server in a cell: a sandbox, a policy
// check on every JSON-RPC frame, and an audit log. See README.md.
//
// The package is the CLI and the wiring, not the logic: main only calls
// run with the process's streams, so that the tests drive the real CLI.
// cli.go dispatches the commands and sends every message to the user
// through errorf and hintf (mcpcell: error: …, mcpcell: hint: …) on
// stderr; stdout belongs to the protocol. Each command has its file:
// run.go (start the cell, the interposer and the audit log; consent.go,
// shutdown.go and hangup_*.go serve it), check.go, trust.go and
// trust_tools.go, audit.go, secret.go, wrap.go (backup.go writes its
// backup and files); confirm.go shows a change as a diff and asks before
// wrap and trust apply it; cell.go does the side effects of building a
// cell from what profiles compiles (making its folders, probing the
// kernel).
//
// # Where a new thing goes
//
// A new command is a case in runUnhardened's switch (cli.go), a file of its own, a
// help text in helps, and a testscript under testdata/script. A decision
// about a profile or a message does not go here: it goes in profiles; a
// part of the cell goes in sandbox. Security regressions are tests here
// that run the real CLI against a hostile server (the *_attack_* files),
// each with its control.
//
// # What it does not do
//
// It is a command, not an API: it exports nothing. It confines no process
// itself (the helper it re-executes, sandbox.Helper, does) and never the
// proxy: mcpcell runs unconfined beside the cell it starts.
package main
