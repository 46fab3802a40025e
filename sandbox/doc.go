// Package sandbox starts the MCP server as a child process in a cell: its
// own process group, an environment built from nothing, and (on Linux,
// through a re-executed helper) the Landlock and seccomp rules of a Cell.
// It also stops the server by a Ladder: close its input, wait, SIGTERM
// the group, wait, SIGKILL; Hurry cuts the waits short, and Drain leaves
// the input open through the first wait to a caller still writing. On
// Linux, BecomeSubreaper and KillDescendants take the processes that left
// the group too, however fast they fork.
//
// The proxy itself is never confined by the server's rules.
//
// The helper is a whole program start (some 9 ms here): Prepare starts it
// early, to wait for its spec while the caller reads the profile. It is
// forked from a goroutine that keeps its OS thread locked until the
// server has exited: the parent-death signal fires when the forking
// thread ends, and Go ends threads whose locked goroutine returns.
//
//	srv, err := sandbox.Start(cell, os.Stderr)
//	...
//	srv.Stop(sandbox.Ladder{EOF: time.Second, Term: time.Second}) // when the client goes away
//	code := srv.Wait()
package sandbox
