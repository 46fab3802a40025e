package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/sandbox"
)

// The ladders by which mcpcell ends the server once the client has gone.
// The official Python and TypeScript SDKs close the server's stdin, wait
// 2 s, SIGTERM it, wait 2 s and SIGKILL it: mcpcell's ladder (timed from
// the client's hang-up, whether mcpcell has read all it sent or not), the
// sweep of the server's descendants and the audit end record all fit
// before that SIGKILL, and the SIGTERM finds mcpcell past its wait for
// EOF. A shutdown that the SDKs' SIGTERM starts (a close mcpcell could not
// see) skips the EOF wait, and fits too.
const (
	eofGrace  = time.Second // from closing the server's stdin to SIGTERM
	termGrace = time.Second // from SIGTERM to killing the whole tree
	// drainGrace is how long the last frames of a dead server may take to
	// reach a client that has closed its side: one that no longer reads
	// must not hold the session's end.
	drainGrace = 500 * time.Millisecond
)

// stopper runs one ladder, the first asked for: by the end of the
// client's input, its hang-up, a signal, or the end of the server's
// output.
type stopper struct {
	srv     *sandbox.Server
	started atomic.Bool
	ended   chan struct{} // closed once the ladder has ended the server
}

func newStopper(srv *sandbox.Server) *stopper {
	return &stopper{srv: srv, ended: make(chan struct{})}
}

// start runs l unless a ladder runs already, and reports whether it did.
func (st *stopper) start(l sandbox.Ladder) bool {
	if st.started.Swap(true) {
		return false
	}
	go func() {
		st.srv.Stop(l)
		close(st.ended)
	}()
	return true
}

// clientClosed: mcpcell has read the end of the client's input.
func (st *stopper) clientClosed() {
	st.start(sandbox.Ladder{EOF: eofGrace, Term: termGrace})
}

// hungUp: the client hung up before mcpcell read all it sent, held up by
// a server that does not read. The ladder's clock starts now; the server
// gets what it takes of the rest while the EOF wait lasts.
func (st *stopper) hungUp() {
	st.start(sandbox.Ladder{EOF: eofGrace, Term: termGrace, Drain: true})
}

// stopSignals are the signals that stop the server by a ladder, not by
// Go's default exit: SIGQUIT (Ctrl-\ in a terminal) and SIGABRT too,
// whose default would leave the cell's detached processes running and
// the audit log without its end.
var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGABRT}

// signal is one of stopSignals to mcpcell. The first means the
// client wants the server gone, and may have closed its input where
// mcpcell cannot see it (another process holds the pipe, or Node holds
// back its end() behind writes that mcpcell cannot take): the server's
// input is closed and its group gets SIGTERM at once, SIGKILL a grace
// later, inside what is left of the SDKs' ladder after their SIGTERM.
// One that comes while any ladder runs (the SDKs' SIGTERM 2 s after
// closing stdin) kills the server's tree at once.
func (st *stopper) signal() {
	if !st.start(sandbox.Ladder{Term: termGrace}) {
		st.srv.Hurry()
	}
}

// stop runs the EOF ladder unless a ladder runs already, and returns once
// the server has exited.
func (st *stopper) stop() {
	st.clientClosed()
	<-st.ended
}

// serve pumps frames through s, a session of ip, until it ends, ends
// the server and its descendants, writes the audit log's end record and
// returns the server's exit status. sigs delivers stopSignals, those
// that came while the server started among them.
func (c *cli) serve(ip *jsonrpc.Interposer, s *jsonrpc.Session, srv *sandbox.Server, log *audit.Log, sigs <-chan os.Signal) int {
	st := newStopper(srv)
	go func() {
		for range sigs {
			st.signal()
		}
	}()
	// A client that is gone leaves mcpcell's stdout and stderr broken: a
	// write there must fail, not kill mcpcell (Go's way with SIGPIPE on fd
	// 1 and 2) before it has ended the server's tree. Kept until exit.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	ip.ClientClosed = st.clientClosed
	watchHangup(c.stdin, st.hungUp)
	ran := make(chan error, 1)
	go func() { ran <- s.Run(c.stdin, c.stdout, srv.Stdin, srv.Stdout) }()
	var runErr error
	killed, undelivered := 0, false
	select {
	case runErr = <-ran:
	case <-st.ended:
		// With the server's tree gone nothing holds its output open: the
		// frames still in transit wait only for the client to read them.
		killed = sandbox.KillDescendants(srv.Pid())
		select {
		case runErr = <-ran:
		case <-time.After(drainGrace):
			// Run stays blocked on the client; mcpcell's exit ends it.
			undelivered = true
		}
	}
	st.stop()
	exit := srv.Wait()
	killed += sandbox.KillDescendants(srv.Pid())
	note := fmt.Sprintf("server exited with status %d", exit)
	if undelivered {
		note += "; the client was not reading, so its last frames were not delivered"
	}
	// The client's frames end here: one being handled gets its answer
	// written, and none is taken after the end record.
	if !undelivered && !s.Finish(drainGrace) {
		note += "; the client was not reading, so its last frames were not delivered"
	}
	// The end record goes to disk before anything goes to stderr, which a
	// client that has gone may no longer read, and before the client's
	// SIGKILL can come; the counts of repeated events go before it.
	s.EndCounts()
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "end", Rule: "session", Note: note})
	if err := log.Flush(); err != nil {
		c.errorf("writing the audit log's end record: %v", err)
	}
	if runErr != nil {
		fmt.Fprintf(c.stderr, "mcpcell: reading from the server: %v\n", runErr)
	}
	if undelivered {
		fmt.Fprintf(c.stderr, "mcpcell: the client was not reading; the server's last frames were not delivered\n")
	}
	if killed > 0 {
		fmt.Fprintf(c.stderr, "mcpcell: killed %d process(es) the server left behind\n", killed)
	}
	return exit
}
