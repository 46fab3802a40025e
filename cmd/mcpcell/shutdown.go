package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
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
	// cause and why say who asked for the ladder that ran, for the end
	// record: set before started, read after ended.
	cause, why string
	ladder     sandbox.Ladder
	steps      sandbox.Steps // what the ladder did: set before ended
}

func newStopper(srv *sandbox.Server) *stopper {
	return &stopper{srv: srv, ended: make(chan struct{})}
}

// start runs l, asked for by cause (why, in words), unless a ladder runs
// already, and reports whether it did.
func (st *stopper) start(l sandbox.Ladder, cause, why string) bool {
	if st.started.Swap(true) {
		return false
	}
	st.cause, st.why, st.ladder = cause, why, l
	go func() {
		st.steps = st.srv.Stop(l)
		close(st.ended)
	}()
	return true
}

// clientClosed: mcpcell has read the end of the client's input.
func (st *stopper) clientClosed() {
	st.start(sandbox.Ladder{EOF: eofGrace, Term: termGrace}, endClientClosed, "the client closed stdin")
}

// hungUp: the client hung up before mcpcell read all it sent, held up by
// a server that does not read. The ladder's clock starts now; the server
// gets what it takes of the rest while the EOF wait lasts.
func (st *stopper) hungUp() {
	st.start(sandbox.Ladder{EOF: eofGrace, Term: termGrace, Drain: true}, endClientClosed, "the client closed stdin")
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
func (st *stopper) signal(sig os.Signal) {
	if !st.start(sandbox.Ladder{Term: termGrace}, endSignal, fmt.Sprintf("mcpcell got %v", sig)) {
		st.srv.Hurry()
	}
}

// stopped: mcpcell was asked to stop the server (c.stop), as a signal
// asks.
func (st *stopper) stopped(why string) {
	if !st.start(sandbox.Ladder{Term: termGrace}, endSignal, why) {
		st.srv.Hurry()
	}
}

// The causes of a session's end, the rule of its end record.
const (
	endClientClosed = "client-closed" // the client closed stdin or hung up; the ladder stopped the server
	endSignal       = "signal"        // mcpcell got a stop signal, or probe's --timeout passed; the ladder stopped the server
	endServerExited = "server-exited" // the server exited, or closed its output, on its own
)

// endNote says how the session ended, for the end record: who asked,
// what the ladder did (the steps it took, as sandbox.Stop reports them,
// never read off the status, which the server chooses), and the exit
// status.
func (st *stopper) endNote(exit int) string {
	who := st.why // who asked for the ladder
	if st.cause == endServerExited {
		if st.why == "exited" {
			return fmt.Sprintf("the server exited with status %d", exit)
		}
		who = "the server closed its output"
	}
	var steps []string
	if st.ladder.EOF > 0 {
		steps = append(steps, "stdin closed")
	}
	if st.steps.Term {
		steps = append(steps, "SIGTERM"+after(st.steps.TermAfter))
	}
	if st.steps.Kill {
		steps = append(steps, "SIGKILL"+after(st.steps.KillAfter))
	}
	switch {
	case !st.steps.Term && !st.steps.Kill && st.ladder.EOF > 0:
		return fmt.Sprintf("%s; the server exited with status %d after its stdin closed", who, exit)
	case !st.steps.Term && !st.steps.Kill:
		return fmt.Sprintf("%s; the server exited with status %d", who, exit)
	}
	return fmt.Sprintf("%s; the server was stopped (%s); status %d", who, strings.Join(steps, ", then "), exit)
}

// after is " after d" for a step that came after a wait, "" for one
// that came at once.
func after(d time.Duration) string {
	if d < 50*time.Millisecond {
		return ""
	}
	return " after " + d.Round(100*time.Millisecond).String()
}

// serve pumps frames through s, a session of ip, until it ends, ends
// the server and its descendants, writes the audit log's end record and
// returns the server's exit status. sigs delivers stopSignals, those
// that came while the server started among them.
//
// explain says why a server that exited before it wrote anything may
// have done so: the error, the hint, the end record's note.
func (c *cli) serve(ip *jsonrpc.Interposer, s *jsonrpc.Session, srv *sandbox.Server, log *audit.Log, sigs <-chan os.Signal, explain func(exit int) (msg, hint string)) int {
	st := newStopper(srv)
	go func() {
		stop := c.stop
		for {
			select {
			case sig := <-sigs:
				st.signal(sig)
			case <-stop:
				st.stopped("probe's --timeout passed")
				stop = nil
			}
		}
	}()
	// A client that is gone leaves mcpcell's stdout and stderr broken: a
	// write there must fail, not kill mcpcell (Go's way with SIGPIPE on fd
	// 1 and 2) before it has ended the server's tree. Kept until exit.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	ip.ClientClosed = st.clientClosed
	watchHangup(c.stdin, st.hungUp)
	ran := make(chan error, 1)
	out := &firstBytes{r: srv.Stdout, ended: make(chan struct{})}
	if c.probing != nil {
		c.probing.serving(out.ended)
	}
	toClient := &clientOutput{w: c.stdout}
	fromClient := &inputEnd{r: c.stdin, ended: make(chan struct{})}
	go func() { ran <- s.Run(fromClient, toClient, srv.Stdin, out) }()
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
	// The server's output ended with no ladder asked for: it exited on its
	// own (or closed its output, and the ladder below ends it).
	// The client's EOF closes the server's input before it asks for the
	// ladder: a server that exits at once is still the client's doing.
	select {
	case <-fromClient.ended:
		st.clientClosed()
	case <-srv.Done():
		st.start(sandbox.Ladder{}, endServerExited, "exited")
	default:
		st.start(sandbox.Ladder{EOF: eofGrace, Term: termGrace}, endServerExited, "closed its output")
	}
	<-st.ended
	exit := srv.Wait()
	killed += sandbox.KillDescendants(srv.Pid())
	rule, note := st.cause, st.endNote(exit)
	var why, fix string // an exit before the server said anything
	if !out.seen.Load() && explain != nil && exit != 0 && exit != 128+int(syscall.SIGTERM) && exit != 128+int(syscall.SIGKILL) {
		why, fix = explain(exit)
		note = why + " (" + fix + ")"
		if rule != endServerExited {
			note = st.why + "; " + note
		}
	}
	if err := toClient.failed(); err != nil {
		note += fmt.Sprintf("; the client's side was gone before (writing to it: %v)", err)
	}
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
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "end", Rule: rule, Note: note})
	if err := log.Flush(); err != nil {
		c.errorf("writing the audit log's end record: %v", err)
	}
	if runErr != nil {
		fmt.Fprintf(c.stderr, "mcpcell: reading from the server: %v\n", runErr)
	}
	if why != "" {
		c.errorf("%s", why)
		c.hintf("%s", fix)
	}
	if undelivered {
		fmt.Fprintf(c.stderr, "mcpcell: the client was not reading; the server's last frames were not delivered\n")
	}
	if killed > 0 {
		fmt.Fprintf(c.stderr, "mcpcell: killed %d process(es) the server left behind\n", killed)
	}
	return exit
}

// firstBytes reads r and notes whether anything came, and closes ended
// at its end (before the session, which reads it, learns of it).
type firstBytes struct {
	r     io.Reader
	seen  atomic.Bool
	once  sync.Once
	ended chan struct{}
}

func (f *firstBytes) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if n > 0 && !f.seen.Load() {
		f.seen.Store(true)
	}
	if err != nil {
		f.once.Do(func() { close(f.ended) })
	}
	return n, err
}

// clientOutput writes to the client and keeps the first failure: a
// client that went away (its end of the pipe closed) says so in the end
// record.
type clientOutput struct {
	w   io.Writer
	mu  sync.Mutex
	err error
}

func (c *clientOutput) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	if err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *clientOutput) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// inputEnd reads the client's input and closes ended at its end.
type inputEnd struct {
	r     io.Reader
	once  sync.Once
	ended chan struct{}
}

func (c *inputEnd) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err == io.EOF {
		c.once.Do(func() { close(c.ended) })
	}
	return n, err
}
