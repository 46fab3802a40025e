// Package sandbox starts the MCP server as a child process in a cell: on
// Linux its own session (and so its own process group, and no controlling
// terminal), an environment built from nothing, and, through a
// re-executed helper, the Landlock rules of a Cell, no capabilities (root
// included, with the securebits locked) and a seccomp filter. The filter
// refuses what Landlock does not cover: socket families, io_uring, the
// keyring, mounts and namespaces (clone's CLONE_NEW* flags; clone3 gets
// ENOSYS so that libc falls back to clone), calls on other processes
// (OwnProcessOnly) and executable memfds.
//
// It also stops the server by a Ladder: close its input, wait, SIGTERM
// the group, wait, SIGKILL; Hurry cuts the waits short, and Drain leaves
// the input open through the first wait to a caller still writing. On
// Linux, BecomeSubreaper and KillDescendants take the processes that left
// the group too, however fast they fork, and a Reaper reaps the orphans
// mcpcell adopts as they die and counts the cell's processes against a
// cap.
//
// The proxy itself is never confined by the server's rules.
//
// # The cell's own network (Net.Egress)
//
// With Net.Egress the helper starts in a user and network namespace of its
// own (uid map: the user's own uid, or every uid for root). Before it
// confines itself it brings lo up, adds Egress.Addrs, binds Egress.Listen
// and sends the sockets to mcpcell over its status socket (SCM_RIGHTS):
// Server.Sockets, which mcpcell serves from the host's namespace. The
// server can reach nothing else by IP: the namespace has no route out.
// Landlock lets it connect to the listeners' TCP ports; seccomp allows
// UDP there (the DNS stub), never without the namespace. UNIX sockets, if
// the profile grants them, still reach the host's daemons by path. When
// the namespace cannot be made or set up, Start returns a
// *NamespaceError (the cause, and Fix for a hint) and runs nothing: there
// is no fallback to the host's network.
// TryNamespace does the same set-up on this machine and lets the helper
// exit there, confining and running nothing: mcpcell check's test of
// whether run would work.
//
// The helper is a whole program start (some 9 ms here): Prepare starts it
// early, to wait for its spec while the caller reads the profile. It is
// forked from a goroutine that keeps its OS thread locked until the
// server has exited: the parent-death signal fires when the forking
// thread ends, and Go ends threads whose locked goroutine returns.
//
// # Where a new thing goes
//
// A new confinement is a field of Spec (spec.go) with its place in the
// pipe's binary form (wire.go: bump specVersion), applied by Helper on its
// locked thread (landlock_linux.go for Landlock rules, seccomp_linux.go
// for the filter, caps_linux.go for capabilities, netns*.go for the
// network namespace and status*.go for the status socket), reported by Kernel.Gaps
// (probe.go) where a kernel cannot enforce it, and given an Unhardened bit
// so that a hostile-server test can show it is what stops the attack.
// Grants and their checks (Resolve, CheckLinks, Within) live in spec.go
// and links.go; stopping and reaping in cell.go and reaper*.go.
//
// # What it does not do
//
// It reads no profile and decides nothing about messages: the caller
// (mcpcell, from what profiles compiles) says what the Cell grants, and
// the policy checks the frames. Elsewhere than Linux it confines nothing:
// Kernel.Gaps says so, and Helper fails with a clear error.
//
//	srv, err := sandbox.Start(cell, os.Stderr)
//	...
//	go func() {
//		if n := (sandbox.Reaper{Server: srv.Pid(), Max: 512}).Run(srv.Done()); n > 0 {
//			sandbox.KillDescendants(srv.Pid()) // over the cap: the whole cell goes
//		}
//	}()
//	...
//	srv.Stop(sandbox.Ladder{EOF: time.Second, Term: time.Second}) // when the client goes away
//	code := srv.Wait()
package sandbox
