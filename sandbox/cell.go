package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// Cell is a server to start and how to confine it.
type Cell struct {
	Spec Spec
	// Helper is the argv that re-executes mcpcell as its helper (argv[0]
	// as mcpcell was called, then the hidden subcommand); nil starts the
	// command directly, unconfined.
	Helper []string
	// Prepared, when set with Helper, is that helper already started (see
	// Prepare).
	Prepared *Prepared
}

// baseEnv names the variables of mcpcell's own environment that every
// server gets: what a program needs to find its tools and speak the
// user's language, nothing that grants access.
var baseEnv = []string{"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR"}

// Environ builds a server's environment from nothing: baseEnv and LC_*
// from getenv's source (environ), then pass, then set. Later wins.
func Environ(environ []string, pass []string, set map[string]string) []string {
	src := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			src[k] = v
		}
	}
	out := map[string]string{}
	for k, v := range src {
		if strings.HasPrefix(k, "LC_") {
			out[k] = v
		}
	}
	for _, k := range append(append([]string{}, baseEnv...), pass...) {
		if v, ok := src[k]; ok {
			out[k] = v
		}
	}
	for k, v := range set {
		out[k] = v
	}
	env := make([]string, 0, len(out))
	for k, v := range out {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// Server is a started server process.
type Server struct {
	Stdin  io.WriteCloser
	Stdout io.ReadCloser

	// Setup is how long the helper took to confine itself; ABI is the
	// Landlock ABI it used.
	Setup time.Duration
	ABI   int
	// Sockets are the sockets of Spec.Net.Egress.Listen, in its order,
	// bound inside the server's network namespace; the caller serves
	// and closes them.
	Sockets []*os.File

	cmd        *exec.Cmd
	done       chan struct{}
	stderrDone chan struct{}
	code       int
	stopOnce   sync.Once
	steps      Steps         // what Stop did, set once it has
	hurry      chan struct{} // closed by Hurry
	hurryOnce  sync.Once
}

// Prepared is a helper started before its spec is known, so that its
// runtime starts while mcpcell reads the profile. Start it with Start
// (Cell.Prepared), or end it with Discard.
type Prepared struct {
	s                             *Server
	inW, outR, errR, specW, statR *os.File
	specR, statusW                *os.File
	used                          bool
	off                           Unhardened // what spawn was told
	egress                        bool       // started in a network namespace of its own
}

// Prepare starts the helper argv (see Cell.Helper) with no spec yet. off
// must be the spec's Unhardened (zero but in tests' controls). The helper
// shares mcpcell's network: Start discards it for a spec with
// Net.Egress, whose helper must start in a namespace of its own.
func Prepare(helper []string, off Unhardened) (*Prepared, error) {
	return spawn(nil, helper, off, false)
}

// Discard ends a prepared helper that was not used: it reads the end of
// its spec and exits.
func (p *Prepared) Discard() {
	if p == nil || p.used {
		return
	}
	p.used = true
	for _, f := range []*os.File{p.specW, p.statR, p.inW, p.outR, p.errR, p.specR, p.statusW} {
		f.Close()
	}
	<-p.s.done
}

// Start starts the server, through the helper when c.Helper is set (or
// the one c.Prepared holds). Its stderr is copied to stderr. It returns
// once the server runs confined, or with the helper's reason why it could
// not.
//
// With c.Spec.Net.Egress, the helper starts in a user and network
// namespace of its own and the server's only exits are the sockets of
// Egress.Listen, returned in Server.Sockets in that order; when the
// namespace cannot be made or set up, the error is a *NamespaceError and
// no server runs.
//
// The pipes are made here rather than by os/exec, whose Wait closes the
// server's output as soon as the process exits, which would lose frames
// still in the pipe.
func Start(c Cell, stderr io.Writer) (*Server, error) {
	spec := c.Spec
	if len(spec.Command) == 0 {
		c.Prepared.Discard()
		return nil, errors.New("no server command: give one after -- or in the profile's [server] command")
	}
	egress := spec.Net.Egress != nil
	if egress && c.Helper == nil {
		c.Prepared.Discard()
		return nil, errors.New("a cell with [network] hosts needs the cell helper: it makes the server's network namespace")
	}
	p := c.Prepared
	if p != nil && !p.used && (p.off != spec.Unhardened || p.egress != egress) {
		p.Discard() // started in another session or network than the spec asks
	}
	if p == nil || p.used {
		var err error
		if p, err = spawn(&spec, c.Helper, spec.Unhardened, egress); err != nil {
			return nil, err
		}
	}
	return p.start(spec, stderr)
}

// start sends spec to the prepared helper p and waits for the server to
// run.
func (p *Prepared) start(spec Spec, stderr io.Writer) (*Server, error) {
	p.used = true
	p.copyStderr(stderr)
	s := p.s
	if p.specW == nil {
		return s, nil // unconfined
	}
	want := p.send(spec)
	// The status socket closes when the helper execs the server (or dies).
	status, sockets, problem := readStatus(p.statR, want)
	p.statR.Close()
	last := readReports(status)
	switch {
	case last.Error != "":
	case problem != "":
		last.Error = problem
	case len(sockets) != want && last.SetupMicros != 0:
		last.Error = fmt.Sprintf("the cell helper sent %d sockets, want %d", len(sockets), want)
	}
	if last.Error == "" && last.SetupMicros == 0 {
		select {
		case <-s.done:
			last.Error = fmt.Sprintf("the cell helper exited with status %d before starting the server", s.code)
		case <-time.After(time.Second):
		}
	}
	if last.Error != "" {
		for _, f := range sockets {
			f.Close()
		}
		s.Stop(Ladder{})
		s.Wait()
		p.inW.Close()
		p.outR.Close()
		if last.NamespaceStep != "" {
			return nil, diagnose(last.NamespaceStep, last.Errno, os.ReadFile, resolvedExecutable())
		}
		return nil, errors.New(last.Error)
	}
	s.Setup = time.Duration(last.SetupMicros) * time.Microsecond
	s.ABI = last.ABI
	s.Sockets = sockets
	return s, nil
}

// send sends spec to the helper, and returns how many sockets it is to
// hand over.
func (p *Prepared) send(spec Spec) (sockets int) {
	spec.Parent = os.Getpid()
	spec.hostNet = netNamespace()
	// The child holds its ends now; ours would keep EOF away.
	p.specR.Close()
	p.statusW.Close()
	go func() {
		p.specW.Write(encodeSpec(&spec))
		p.specW.Close()
	}()
	if spec.Net.Egress != nil {
		return len(spec.Net.Egress.Listen)
	}
	return 0
}

// spawn starts the helper when helper is set (spec may then be nil: it is
// sent later), else the server of spec directly; with egress, the helper
// starts in a user and network namespace of its own.
func spawn(spec *Spec, helper []string, off Unhardened, egress bool) (*Prepared, error) {
	var files []*os.File
	var err error
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File) {
		if err == nil {
			r, w, err = os.Pipe()
			files = append(files, r, w)
		}
		return r, w
	}
	inR, inW := pipe()
	outR, outW := pipe()
	errR, errW := pipe()
	var specR, specW, statusR, statusW *os.File
	if helper != nil {
		specR, specW = pipe()
		if err == nil {
			statusR, statusW, err = statusPair()
			files = append(files, statusR, statusW)
		}
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	var cmd *exec.Cmd
	if helper != nil {
		exe, err := os.Executable()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("finding mcpcell's own executable: %w", err)
		}
		// The helper needs no environment: the server's is in the spec.
		// An empty TZ spares its runtime reading the local time zone.
		cmd = &exec.Cmd{Path: exe, Args: helper, Env: []string{"TZ="}}
		cmd.ExtraFiles = []*os.File{specR, statusW} // fds 3 and 4
	} else {
		cmd = &exec.Cmd{Path: spec.Path, Args: spec.Command, Dir: spec.Dir, Env: spec.Env}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	setProcAttr(cmd, off, egress)
	s := &Server{Stdin: inW, Stdout: outR, cmd: cmd, done: make(chan struct{}), stderrDone: make(chan struct{}), hurry: make(chan struct{})}
	if err := s.fork(); err != nil {
		closeAll()
		if egress {
			return nil, diagnose(stepCreate, err, os.ReadFile, resolvedExecutable())
		}
		name := "the cell helper"
		if spec != nil {
			name = spec.Command[0]
		}
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	for _, f := range []*os.File{inR, outW, errW} {
		f.Close()
	}
	return &Prepared{s: s, inW: inW, outR: outR, errR: errR, specR: specR, specW: specW, statR: statusR, statusW: statusW, off: off, egress: egress}, nil
}

// fork starts s.cmd from a goroutine that holds its OS thread locked
// until the process has exited, then waits for it there. The kernel sends
// the parent-death signal when the thread that forked the child exits,
// not the process, and Go ends a thread whenever a goroutine that locked
// it returns: forked from any other thread, the server would die with the
// next such goroutine, in mcpcell or in a library it uses.
func (s *Server) fork() error {
	started := make(chan error)
	go func() {
		// Never unlocked: the thread ends with this goroutine, once
		// nothing it forked lives.
		runtime.LockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.code = exitCode(s.cmd.Wait())
		close(s.done)
	}()
	return <-started
}

// copyStderr copies the child's stderr to w, which Start is given: for a
// prepared helper mcpcell's stderr may have gained a redactor since.
func (p *Prepared) copyStderr(w io.Writer) {
	go func() {
		io.Copy(w, p.errR)
		p.errR.Close()
		close(p.s.stderrDone)
	}()
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if n := signalCode(ee); n > 0 {
			return n
		}
		return ee.ExitCode()
	}
	return 1
}

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// Wait waits for the server to exit and returns its exit status (128+N
// for a signal N). It also waits, briefly, for the last of its stderr.
func (s *Server) Wait() int {
	<-s.done
	select {
	case <-s.stderrDone:
	case <-time.After(200 * time.Millisecond): // a descendant may hold it open
	}
	return s.code
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Ladder is how Stop ends a server. Each step waits at most its time for
// the server to exit.
type Ladder struct {
	EOF  time.Duration // after its input is closed, before SIGTERM
	Term time.Duration // after SIGTERM to its process group, before SIGKILL
	// Drain leaves the server's input open during the EOF wait, to the
	// caller, who is still writing what the client sent before it hung
	// up and closes the input when done. Stop closes it when the wait
	// is over: a server that stopped reading holds no one up.
	Drain bool
}

// Steps is what Stop did to end the server, for a record of it: which
// signals it sent, each with the time since the step before (the close
// of the server's input, or SIGTERM). A step not taken is false: the
// server had exited before it.
type Steps struct {
	Term      bool
	TermAfter time.Duration
	Kill      bool // the server itself was still there (its group is killed anyway)
	KillAfter time.Duration
}

// Stop ends the server by l: it closes its input, waits up to l.EOF,
// sends SIGTERM to its process group, waits up to l.Term, and kills the
// group. Hurry, before or during Stop, skips what is left of the waits
// (and the SIGTERM). Stop returns once the server has exited, with what
// it did; calling it again only waits for that.
func (s *Server) Stop(l Ladder) Steps {
	s.stopOnce.Do(func() {
		if !l.Drain {
			s.Stdin.Close()
		}
		last := time.Now()
		exited := s.settle(l.EOF)
		s.Stdin.Close() // a write blocked on a server that does not read fails now
		if !exited && !s.gone() {
			s.steps.Term, s.steps.TermAfter = true, time.Since(last)
			last = time.Now()
			terminate(s.cmd)
			s.settle(l.Term)
		}
		if !s.gone() {
			s.steps.Kill, s.steps.KillAfter = true, time.Since(last)
		}
		kill(s.cmd) // also whatever the server left behind in its group
	})
	<-s.done
	return s.steps
}

// gone reports whether the server has exited.
func (s *Server) gone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Hurry makes Stop kill the server now rather than wait for it.
func (s *Server) Hurry() { s.hurryOnce.Do(func() { close(s.hurry) }) }

// settle waits up to d for the server to exit, or for Hurry; it reports
// false when d passed first.
func (s *Server) settle(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.done:
	case <-s.hurry:
	case <-t.C:
		return false
	}
	return true
}
