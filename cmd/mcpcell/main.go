// Command mcpcell runs a local MCP server in a cell: a sandbox, a policy
// check on every JSON-RPC frame, and an audit log. See README.md.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
