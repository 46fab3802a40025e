package sandbox

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/testhome"
	"golang.org/x/sys/unix"
)

// The test binary is also the cell helper, as mcpcell is. The tests
// never touch the real HOME (see internal/testhome).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HelperCommand {
		os.Exit(Helper())
	}
	if len(os.Args) > 1 && os.Args[1] == netProbeCommand {
		os.Exit(netProbe(os.Args[2:]))
	}
	os.Exit(testhome.Run(m))
}

// sleepPath is the sleep executable, symlinks resolved.
func sleepPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("sleep")
	if err == nil {
		p, err = filepath.EvalSymlinks(p)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sleepCell is a cell whose server sleeps, confined by the real helper
// (this test binary) with Landlock and seccomp.
func sleepCell(t testing.TB) Cell {
	t.Helper()
	if abi := landlockABI(); abi < NeedABI {
		if os.Getenv("MCPCELL_REQUIRE_ALL") == "1" {
			t.Fatalf("Landlock ABI %d, the cell needs %d, and MCPCELL_REQUIRE_ALL=1 makes that a failure", abi, NeedABI)
		}
		t.Skipf("skipped: Landlock ABI %d, the cell needs %d", abi, NeedABI)
	}
	dir := t.TempDir()
	return Cell{
		Spec: Spec{
			Command: []string{"sleep", "600"}, Path: sleepPath(t), Dir: dir, Env: []string{"PATH=/usr/bin"},
			Rules: []PathRule{{Path: "/usr", Access: Read | Exec, Dir: true}, {Path: "/etc", Access: Read, Dir: true}, {Path: dir, Access: Read, Dir: true}},
		},
		Helper: []string{os.Args[0], HelperCommand},
	}
}

// onDoomedThread runs f on a goroutine locked to its OS thread, then
// lets that goroutine return locked, so that Go ends the thread, and
// returns once the thread is gone. (Go never ends the main thread: when
// the goroutine lands there, it tries again.)
func onDoomedThread(t *testing.T, f func()) {
	t.Helper()
	for {
		tids := make(chan int)
		go func() {
			runtime.LockOSThread()
			tid := unix.Gettid()
			if tid == unix.Getpid() {
				runtime.UnlockOSThread()
			} else {
				f()
			}
			tids <- tid
		}()
		tid := <-tids
		if tid == unix.Getpid() {
			continue
		}
		waitThreadGone(t, tid)
		return
	}
}

// endIdleThreads has n goroutines lock a thread each and hold it until
// all have one, so that Go hands them every thread it keeps idle, then
// return, so that Go ends those threads; it returns once they are gone.
func endIdleThreads(t *testing.T, n int) {
	t.Helper()
	tids := make(chan int, n)
	release := make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread()
			tid := unix.Gettid()
			tids <- tid
			<-release
			if tid == unix.Getpid() {
				runtime.UnlockOSThread() // Go never ends the main thread
			}
		}()
	}
	var held []int
	for range n {
		held = append(held, <-tids)
	}
	close(release)
	for _, tid := range held {
		if tid == unix.Getpid() {
			continue
		}
		waitThreadGone(t, tid)
	}
}

// waitThreadGone waits until the thread tid of this process has exited.
func waitThreadGone(t *testing.T, tid int) {
	t.Helper()
	task := "/proc/self/task/" + strconv.Itoa(tid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(task); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d still exists 5 s after its locked goroutine returned", tid)
		}
	}
}

// The parent-death signal fires when the thread that forked the child
// exits, and Go ends threads whenever a goroutine that locked one returns.
// A server must survive that: forked from the thread that called Prepare
// or Start, then that thread and many more ended, it still runs.
func TestServerOutlivesThreads(t *testing.T) {
	for _, name := range []string{"start", "prepare-then-start"} {
		t.Run(name, func(t *testing.T) {
			cell := sleepCell(t)
			var srv *Server
			var err error
			if name == "start" {
				onDoomedThread(t, func() { srv, err = Start(cell, io.Discard) })
			} else {
				// mcpcell prepares the helper first thing and starts it
				// after reading the profile, on whatever thread it is on.
				onDoomedThread(t, func() { cell.Prepared, err = Prepare(cell.Helper, 0) })
				if err == nil {
					srv, err = Start(cell, io.Discard)
				}
			}
			if err != nil {
				t.Fatalf("starting the server: %v", err)
			}
			defer srv.Stop(Ladder{})
			endIdleThreads(t, 64)
			select {
			case <-srv.Done():
				t.Fatalf("the server died with a thread of mcpcell's (status %d)", srv.Wait())
			case <-time.After(500 * time.Millisecond):
			}
		})
	}
}

// The control for TestServerOutlivesThreads: a child forked with the
// attributes spawn gives, from a thread that then ends, is killed with
// that thread while the test process lives on.
func TestParentDeathFollowsThread(t *testing.T) {
	cmd := exec.Command(sleepPath(t), "600")
	setProcAttr(cmd, 0, false)
	var err error
	onDoomedThread(t, func() { err = cmd.Start() })
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(err); code != 128+9 {
			t.Errorf("the child's status %d, want %d (SIGKILL)", code, 128+9)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the child outlived the thread that forked it: the control shows nothing")
	}
}

// Stop's ladder: a server that ignores its input's end gets SIGTERM after
// the EOF wait; Hurry, before or during Stop, skips the waits left and the
// SIGTERM with them. sleep ignores EOF and dies of SIGTERM, so its status
// tells which signal ended it, and the Steps Stop returns say the same.
func TestStopLadder(t *testing.T) {
	for _, c := range []struct {
		name       string
		ladder     Ladder
		hurry      string // "", "before" or "during" Stop
		want       int
		term, kill bool // the steps Stop says it took
	}{
		{"eof wait, then SIGTERM", Ladder{EOF: 50 * time.Millisecond, Term: time.Hour}, "", 128 + 15, true, false},
		{"hurried during the EOF wait", Ladder{EOF: time.Hour, Term: time.Hour}, "during", 128 + 9, false, true},
		{"hurried before Stop", Ladder{EOF: time.Hour, Term: time.Hour}, "before", 128 + 9, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, err := Start(sleepCell(t), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop(Ladder{})
			if c.hurry == "before" {
				srv.Hurry()
			}
			stopped := make(chan struct{})
			var steps Steps
			go func() { steps = srv.Stop(c.ladder); close(stopped) }()
			if c.hurry == "during" {
				time.Sleep(50 * time.Millisecond)
				srv.Hurry()
			}
			select {
			case <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatalf("Stop still waits 10 s on")
			}
			if code := srv.Wait(); code != c.want {
				t.Errorf("the server's status %d, want %d", code, c.want)
			}
			if steps.Term != c.term || steps.Kill != c.kill || c.term && steps.TermAfter < 50*time.Millisecond {
				t.Errorf("Stop's steps %+v, want SIGTERM %v (after the EOF wait), SIGKILL %v", steps, c.term, c.kill)
			}
		})
	}
}

// A granted folder that a server swaps for a symbolic link after mcpcell
// resolved and checked the grants (a server of another session of the
// cell can) does not reach the helper's ruleset: the helper opens each
// rule's path without following links and binds the rule to that file,
// so the start fails, naming the path. Control: the same cell with the
// real folder starts. And the rule binds the folder opened: a sleep cell
// started through pinned rules runs.
func TestGrantSwappedForLinkAfterCheck(t *testing.T) {
	cell := sleepCell(t)
	base := t.TempDir()
	granted := filepath.Join(base, "cache")
	if err := os.Mkdir(granted, 0o700); err != nil {
		t.Fatal(err)
	}
	cell.Spec.Rules = append(cell.Spec.Rules, PathRule{Path: granted, Access: Read | Write, Dir: true})
	srv, err := Start(cell, io.Discard)
	if err != nil {
		t.Fatalf("control: the cell with the real folder did not start: %v", err)
	}
	srv.Stop(Ladder{})
	// The swap: the folder the check saw is now a link to a private one.
	private := t.TempDir()
	if err := os.Remove(granted); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(private, granted); err != nil {
		t.Fatal(err)
	}
	srv, err = Start(cell, io.Discard)
	if err == nil {
		srv.Stop(Ladder{})
		t.Fatal("the cell started with a rule through a link made after the check")
	}
	if !strings.Contains(err.Error(), "passes through a symbolic link that was not there when mcpcell checked it") || !strings.Contains(err.Error(), granted) {
		t.Errorf("error: %v", err)
	}
	// A link in the middle of the path too.
	cell.Spec.Rules[len(cell.Spec.Rules)-1].Path = filepath.Join(granted, "sub")
	if err := os.Mkdir(filepath.Join(private, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if srv, err = Start(cell, io.Discard); err == nil {
		srv.Stop(Ladder{})
		t.Fatal("the cell started with a rule through a link in the middle of its path")
	}
}
