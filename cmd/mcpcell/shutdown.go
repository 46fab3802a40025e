package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/jsonrpc/audit"
	"github.com/mcpcell/mcpcell/sandbox"
)

// The ladder by which mcpcell ends the server once the client has gone.
// The official Python and TypeScript SDKs close the server's stdin, wait
// 2 s, SIGTERM it, wait 2 s and SIGKILL it: mcpcell's ladder, the sweep of
// the server's descendants and the audit end record all fit before that
// SIGKILL, and the SIGTERM finds mcpcell past its wait for EOF.
const (
	eofGrace  = time.Second // from closing the server's stdin to SIGTERM
	termGrace = time.Second // from SIGTERM to killing the whole tree
)

// stopper runs the ladder once, for whoever asks first: the end of the
// client's input, a signal, or the end of the server's output.
type stopper struct {
	srv      *sandbox.Server
	stopping atomic.Bool
}

func newStopper(srv *sandbox.Server) *stopper { return &stopper{srv: srv} }

// stop runs the ladder and returns once the server has exited.
func (st *stopper) stop() {
	st.stopping.Store(true)
	st.srv.Stop(sandbox.Ladder{EOF: eofGrace, Term: termGrace})
}

// signal is a SIGINT, SIGTERM or SIGHUP to mcpcell: the first starts the
// ladder, as the end of stdin does; one that comes while it runs (the
// SDKs SIGTERM 2 s after closing stdin) kills the server's tree at once.
func (st *stopper) signal() {
	if !st.stopping.Swap(true) {
		go st.stop()
		return
	}
	st.srv.Hurry()
}

// serve pumps frames through ip until the session ends, ends the server
// and its descendants, writes the audit log's end record and returns the
// server's exit status.
func (c *cli) serve(ip *jsonrpc.Interposer, srv *sandbox.Server, log *audit.Log) int {
	st := newStopper(srv)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for range sigs {
			st.signal()
		}
	}()
	// A client that is gone leaves mcpcell's stdout and stderr broken: a
	// write there must fail, not kill mcpcell (Go's way with SIGPIPE on fd
	// 1 and 2) before it has ended the server's tree. Kept until exit.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	ip.ClientClosed = func() { go st.stop() }
	runErr := ip.Run(c.stdin, c.stdout, srv.Stdin, srv.Stdout)
	st.stop()
	exit := srv.Wait()
	killed := sandbox.KillDescendants(srv.Pid())
	note := fmt.Sprintf("server exited with status %d", exit)
	// The end record goes to disk before anything goes to stderr, which a
	// client that has gone may no longer read, and before the client's
	// SIGKILL can come.
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "end", Rule: "session", Note: note})
	if err := log.Flush(); err != nil {
		c.errorf("writing the audit log's end record: %v", err)
	}
	if runErr != nil {
		fmt.Fprintf(c.stderr, "mcpcell: reading from the server: %v\n", runErr)
	}
	if killed > 0 {
		fmt.Fprintf(c.stderr, "mcpcell: killed %d process(es) the server left behind\n", killed)
	}
	return exit
}
