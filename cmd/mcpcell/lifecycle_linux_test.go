package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/internal/hopper"
	"github.com/mcpcell/mcpcell/internal/syncbuf"
	"golang.org/x/sys/unix"
)

// stamp finds "fakeserver: WHAT at MILLIS" in stderr.
func stamp(t *testing.T, stderr, what string) time.Time {
	t.Helper()
	m := regexp.MustCompile(`fakeserver: ` + what + ` at (\d+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no %q in stderr:\n%s", what, stderr)
	}
	ms, _ := strconv.ParseInt(m[1], 10, 64)
	return time.UnixMilli(ms)
}

func serverPid(t *testing.T, s *session) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := regexp.MustCompile(`fakeserver: pid (\d+)`).FindStringSubmatch(s.stderr.String()); m != nil {
			pid, _ := strconv.Atoi(m[1])
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the server did not report its pid")
	return 0
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie still answers kill(0); look at its state.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	return !regexp.MustCompile(`\) Z `).Match(b)
}

// The shutdown ladder: stdin closed, 1 s, SIGTERM, 1 s, SIGKILL, and
// mcpcell exits with the status the signal gave the server.
func TestShutdownLadder(t *testing.T) {
	path := writeProfile(t, "")
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver", "--ignore-eof", "--ignore-term"))
	pid := serverPid(t, s)
	s.in.Close()
	s.cmd.Wait()
	if code := s.cmd.ProcessState.ExitCode(); code != 128+9 {
		t.Errorf("mcpcell exit status %d, want %d (SIGKILL)", code, 128+9)
	}
	stderr := s.stderr.String()
	closed, term := stamp(t, stderr, "stdin closed"), stamp(t, stderr, "got SIGTERM")
	if gap := term.Sub(closed); gap < eofGrace-100*time.Millisecond || gap > eofGrace+termGrace {
		t.Errorf("SIGTERM came %v after stdin closed, want the %v grace", gap, eofGrace)
	}
	if alive(pid) {
		t.Errorf("server pid %d still alive", pid)
	}
}

// A server that stops on SIGTERM gets no SIGKILL: its own status counts.
func TestShutdownSigterm(t *testing.T) {
	path := writeProfile(t, "")
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver", "--ignore-eof"))
	serverPid(t, s)
	s.in.Close()
	s.cmd.Wait()
	if code := s.cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("mcpcell exit status %d, want the server's 143", code)
	}
}

// SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGABRT to mcpcell, while the
// client's input is still open, close the server's stdin and SIGTERM its
// group at once (a client that signals wants the server gone, and may have
// closed its input where mcpcell cannot see it), and kill it a grace
// later. The server ignores both.
func TestSignalsToMcpcell(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGABRT} {
		t.Run(sig.String(), func(t *testing.T) {
			path := writeProfile(t, "")
			s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver", "--ignore-eof", "--ignore-term"))
			pid := serverPid(t, s)
			sent := time.Now()
			s.cmd.Process.Signal(sig)
			s.cmd.Wait()
			took := time.Since(sent)
			stderr := s.stderr.String()
			for _, step := range []string{"stdin closed", "got SIGTERM"} {
				if d := stamp(t, stderr, step).Sub(sent); d > eofGrace/2 {
					t.Errorf("the server saw %q %v after the signal; want at once", step, d)
				}
			}
			if took > termGrace+eofGrace/2 {
				t.Errorf("mcpcell exited %v after the signal; want the %v SIGTERM grace and no EOF wait", took.Round(time.Millisecond), termGrace)
			}
			if code := s.cmd.ProcessState.ExitCode(); code != 128+9 {
				t.Errorf("exit status %d, want %d (the server killed)", code, 128+9)
			}
			if alive(pid) {
				t.Errorf("server still alive")
			}
		})
	}
}

// A signal that comes while the cell starts, before frames move, runs the
// same ladder: mcpcell handled SIGINT, SIGTERM and SIGHUP only from the
// first frame on, so a signal in between (a client that gives up at once,
// as CI once did by timing) killed it by Go's default, without the stop
// ladder or the log's end record. Now a signal before the cell starts
// keeps the server from starting, and one after runs the ladder. The test
// signals as soon as mcpcell has a child (the helper it prepares while it
// reads the profile, or the cell); mutation: with the handler installed
// where frames begin to move, mcpcell dies of the signal.
func TestSignalWhileStarting(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGABRT} {
		t.Run(sig.String(), func(t *testing.T) {
			path := writeProfile(t, "")
			s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver", "--ignore-eof", "--ignore-term"))
			// Each thread lists the children it forked.
			children := fmt.Sprintf("/proc/%d/task/*/children", s.cmd.Process.Pid)
			for deadline := time.Now().Add(10 * time.Second); !hasChild(children); {
				if time.Now().After(deadline) {
					t.Fatal("mcpcell started no cell")
				}
			}
			s.cmd.Process.Signal(sig)
			s.cmd.Wait()
			stderr := s.stderr.String()
			if ws := s.cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
				t.Fatalf("mcpcell died of %v; want the stop ladder\n%s", ws.Signal(), stderr)
			}
			if m := regexp.MustCompile(`fakeserver: pid (\d+)`).FindStringSubmatch(stderr); m != nil {
				if pid, _ := strconv.Atoi(m[1]); alive(pid) {
					t.Errorf("the server is still alive")
				}
			}
			// Either the server never started (one deny start record says
			// why), or the ladder ended it.
			if strings.Contains(stderr, "before the server started; it was not started") {
				t.Log("the signal came before the server started")
				recs := auditRecords(t, path)
				if want := fmt.Sprintf("signal: got %v before the server started", sig); len(recs) != 1 || recs[0].Decision != "deny" || recs[0].Rule != "start" || !strings.HasPrefix(recs[0].Note, want) {
					t.Errorf("audit log %+v, want one deny start record, note %q…", recs, want)
				}
			} else if endRecord(auditRecords(t, path)) == nil {
				t.Errorf("no end record in the audit log\n%s", stderr)
			}
		})
	}
}

// hasChild says whether any of the children files pattern names lists a
// process.
func hasChild(pattern string) bool {
	files, _ := filepath.Glob(pattern)
	for _, f := range files {
		if b, _ := os.ReadFile(f); len(strings.TrimSpace(string(b))) > 0 {
			return true
		}
	}
	return false
}

// If mcpcell is killed outright, the server dies with it.
func TestParentDeath(t *testing.T) {
	path := writeProfile(t, "")
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver", "--ignore-eof", "--ignore-term"))
	pid := serverPid(t, s)
	s.cmd.Process.Kill()
	s.cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("server pid %d outlived a killed mcpcell", pid)
	}
}

// What the README says a SIGKILLed mcpcell leaves: the parent-death
// signal kills the server and nothing else, so its children survive, the
// plain one in the server's own process group as much as the one in a
// session of its own. If this fails, something now takes them with it:
// say so in the README's "No orphans".
func TestKilledMcpcellLeavesServersChildren(t *testing.T) {
	path := writeProfile(t, "")
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
	server := serverPid(t, s)
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	got := resultText(s.call(1, "tools/call", `{"name":"spawn","arguments":{}}`))
	var plain, detached int
	if _, err := fmt.Sscan(got, &plain, &detached); err != nil {
		t.Fatalf("spawn: %q", got)
	}
	t.Cleanup(func() {
		killIf(plain, "__orphan")
		killIf(detached, "__orphan")
	})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if sid, _ := unix.Getsid(detached); sid == detached {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the detached child never made a session of its own")
		}
	}
	if pgid, _ := unix.Getpgid(plain); pgid != server {
		t.Fatalf("the plain child is in group %d, not the server's %d", pgid, server)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	if !gone(server) {
		t.Fatalf("the server (pid %d) outlived a killed mcpcell", server)
	}
	for what, pid := range map[string]int{"plain child, in the server's group": plain, "child in a session of its own": detached} {
		if !alive(pid) {
			t.Errorf("the %s (pid %d) died with mcpcell; the README says it survives", what, pid)
		}
	}
}

// No orphans: grandchildren that ignore SIGTERM, one of them in its own
// session, are gone when the session ends, within 3.5 s.
func TestNoOrphans(t *testing.T) {
	path := writeProfile(t, "")
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	got := resultText(s.call(1, "tools/call", `{"name":"spawn","arguments":{}}`))
	var pids []int
	for _, f := range strings.Fields(got) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("spawn: %s", got)
		}
		pids = append(pids, pid)
	}
	time.Sleep(200 * time.Millisecond) // let them settle: a crash would show now
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("grandchild %d is not running, so the test proves nothing", pid)
		}
	}
	closed := time.Now()
	s.in.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(3500 * time.Millisecond):
		t.Fatalf("mcpcell still running 3.5 s after the client left")
	}
	for _, pid := range pids {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("grandchild %d outlived the session", pid)
		}
	}
	t.Logf("session over and its tree gone %v after the client closed stdin", time.Since(closed).Round(time.Millisecond))
}

// stubbornServer is a node server that will not go quietly: it ignores the
// end of its input and SIGTERM, and leaves a grandchild in a session of
// its own (detached: setsid) that ignores SIGTERM too. It names both pids
// on stderr. The grandchild is node again (the node preset grants it read
// and exec), holding none of the server's pipes. Started with "deaf", it
// never reads its input at all.
const stubbornServer = `
const { spawn } = require('child_process');
process.on('SIGTERM', () => {});
process.on('SIGHUP', () => {});
setInterval(() => {}, 1 << 30);
if (process.argv[2] !== 'grandchild') {
  const g = spawn(process.execPath, [__filename, 'grandchild'], { detached: true, stdio: 'ignore' });
  g.unref();
  if (process.argv[2] !== 'deaf') {
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => process.stderr.write('stubborn: stdin closed\n'));
  }
  process.stderr.write('stubborn: server ' + process.pid + ' grandchild ' + g.pid + '\n');
}
`

// stubbornTree is the server and grandchild of a running stubbornServer.
type stubbornTree struct{ server, grandchild int }

// startStubborn starts stubbornServer in a cell and returns once both of
// its processes run and ignore SIGTERM (a node process that got it earlier
// would die of it, and prove nothing).
func startStubborn(t *testing.T) (*session, stubbornTree, string) {
	t.Helper()
	return startStubbornWith(t, "pipe", false)
}

// startStubbornWith is startStubborn with mcpcell's input made as
// clientInput says, and a deaf server if deaf.
func startStubbornWith(t *testing.T, input string, deaf bool) (*session, stubbornTree, string) {
	t.Helper()
	nodeModules(t)
	profile := writeProfile(t, "")
	js := filepath.Join(filepath.Dir(profile), "stubborn.js")
	if err := os.WriteFile(js, []byte(stubbornServer), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"node", js}
	if deaf {
		args = append(args, "deaf")
	}
	cmd := cellCommand(t, profile, args...)
	s := startSessionIn(t, cmd, clientInput(t, cmd, input))
	var tree stubbornTree
	re := regexp.MustCompile(`stubborn: server (\d+) grandchild (\d+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(s.stderr.String()); m != nil {
			tree.server, _ = strconv.Atoi(m[1])
			tree.grandchild, _ = strconv.Atoi(m[2])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node server did not start; stderr:\n%s", s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		killIf(tree.server, "stubborn.js")
		killIf(tree.grandchild, "stubborn.js")
	})
	for _, pid := range []int{tree.server, tree.grandchild} {
		for !handles(pid, syscall.SIGTERM) {
			if !alive(pid) || time.Now().After(deadline) {
				t.Fatalf("pid %d died or never took SIGTERM in hand; stderr:\n%s", pid, s.stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if sid, _ := unix.Getsid(tree.grandchild); sid != tree.grandchild {
		t.Fatalf("the grandchild is in session %d, not one of its own", sid)
	}
	return s, tree, profile
}

// killIf kills pid if it still runs a command line holding marker (and
// so is not another process that reuses the pid).
func killIf(pid int, marker string) {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && strings.Contains(string(b), marker) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// handles reports whether pid catches or ignores sig.
func handles(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	var mask uint64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			m, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			mask |= m
		}
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			m, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			mask |= m
		}
	}
	return mask&(1<<(sig-1)) != 0
}

// sdkLadder does to mcpcell what the official Python and TypeScript SDKs
// do to their server when they close a session: close its stdin, wait
// 2 s, SIGTERM, wait 2 s, SIGKILL. With signals false it only closes
// stdin and waits (at most 10 s). It returns how long after the close
// mcpcell exited and the last signal it had to send (0: none).
func sdkLadder(s *session, signals bool) (time.Duration, syscall.Signal) {
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	closed := time.Now()
	s.in.Close()
	if !signals {
		select {
		case <-done:
			return time.Since(closed), 0
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-done
			return time.Since(closed), syscall.SIGKILL
		}
	}
	var sent syscall.Signal
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		select {
		case <-done:
			return time.Since(closed), sent
		case <-time.After(time.Until(closed.Add(time.Duration(i+1) * 2 * time.Second))):
		}
		s.cmd.Process.Signal(sig)
		sent = sig
	}
	<-done
	return time.Since(closed), sent
}

// gone waits up to a second for pid to be gone (a zombie counts as gone).
func gone(pid int) bool {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !alive(pid) {
			return true
		}
	}
	return false
}

// auditRecords reads the one audit log of a profile written by
// writeProfile.
func auditRecords(t *testing.T, profile string) []audit.Record {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(filepath.Dir(profile)+"-xdg", "state", "mcpcell", "audit", "*.jsonl"))
	if len(logs) != 1 {
		t.Fatalf("audit logs: %v, want one", logs)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit record %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// endRecord returns the session's end record, or nil.
func endRecord(recs []audit.Record) *audit.Record {
	for i := range recs {
		if recs[i].Decision == "end" {
			return &recs[i]
		}
	}
	return nil
}

// clientInput makes mcpcell's input (cmd.Stdin) as a client would, and
// returns the client's end; nil makes an ordinary pipe. "pipe" is a pipe
// too (Python's and Go's SDKs); "socket" is a socketpair whose Close is
// shutdown(SHUT_WR), as Node's end() (the TypeScript SDK), and
// "socket-close" one whose Close closes it whole; "unseen" is a
// pipe whose write end another process also holds (a child the client
// started without CLOEXEC, say), so that mcpcell never sees the close.
func clientInput(t *testing.T, cmd *exec.Cmd, kind string) io.WriteCloser {
	t.Helper()
	switch kind {
	case "pipe":
		return nil
	case "socket", "socket-close":
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.SetNonblock(fds[1], true)
		theirs, ours := os.NewFile(uintptr(fds[0]), "mcpcell-stdin"), os.NewFile(uintptr(fds[1]), "client")
		cmd.Stdin = theirs
		t.Cleanup(func() { theirs.Close(); ours.Close() })
		if kind == "socket-close" {
			return ours
		}
		return halfCloser{ours}
	case "unseen":
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = r
		held, err := w.SyscallConn()
		var dup int
		if err == nil {
			held.Control(func(fd uintptr) { dup, err = unix.Dup(int(fd)) })
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close(); unix.Close(dup) })
		return w
	}
	t.Fatalf("no client input %q", kind)
	return nil
}

// halfCloser's Close shuts a socket down for writing only.
type halfCloser struct{ *os.File }

func (h halfCloser) Close() error {
	rc, err := h.SyscallConn()
	if err == nil {
		rc.Control(func(fd uintptr) { err = unix.Shutdown(int(fd), unix.SHUT_WR) })
	}
	return err
}

// fill writes frames to in, as a busy client would, until the pipes
// toward a server that does not read are full: it returns once a write
// has been stuck for 200 ms, and leaves it stuck.
func fill(t *testing.T, in io.Writer) {
	t.Helper()
	var wrote atomic.Int64
	done := make(chan error, 1)
	go func() {
		pad := strings.Repeat("a", 100000)
		for i := 1; i <= 100; i++ {
			n, err := fmt.Fprintf(in, `{"jsonrpc":"2.0","id":%d,"method":"ping","params":{"_meta":{"pad":%q}}}`+"\n", i, pad)
			wrote.Add(int64(n))
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for last := int64(-1); ; {
		select {
		case err := <-done:
			t.Fatalf("the client wrote %d bytes and stopped (%v): the pipes never filled, so the test proves nothing", wrote.Load(), err)
		case <-time.After(200 * time.Millisecond):
		}
		n := wrote.Load()
		if n == last {
			t.Logf("the client's write is stuck after %d bytes", n)
			return
		}
		last = n
	}
}

// TestClientKillLadder plays the official SDKs' kill ladder against a
// node server that ignores EOF and SIGTERM and leaves a detached
// grandchild: mcpcell must be done, the tree gone and the end record
// written, before the client's SIGKILL could cut it short. Without the
// client's signals (eof-only) mcpcell must still be done within 3.5 s.
//
// A deaf server never reads its input, and the client fills the pipes
// before it closes its end: mcpcell is stuck writing to the server and
// cannot read the end of its input, so it must notice the hang-up itself
// (the pipe's writer gone, or the socket shut down, as Node's end()
// does). When the close is unseen (another process holds the pipe), the
// SDKs' SIGTERM is the first mcpcell hears of it: then the server is
// SIGTERMed at once and killed a grace later, still inside the ladder.
func TestClientKillLadder(t *testing.T) {
	for _, c := range []struct {
		name    string
		input   string
		deaf    bool
		signals bool
	}{
		{"sdk-ladder", "pipe", false, true},
		{"eof-only", "pipe", false, false},
		{"deaf/pipe/sdk-ladder", "pipe", true, true},
		{"deaf/pipe/eof-only", "pipe", true, false},
		{"deaf/socket/eof-only", "socket", true, false},
		{"deaf/socket-close/eof-only", "socket-close", true, false},
		{"deaf/unseen-close/sdk-ladder", "unseen", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, tree, profile := startStubbornWith(t, c.input, c.deaf)
			if c.deaf {
				fill(t, s.in)
			}
			took, sent := sdkLadder(s, c.signals)
			if sent == 0 {
				t.Logf("mcpcell exited %v after the close, before any signal", took.Round(time.Millisecond))
			} else {
				t.Logf("mcpcell exited %v after the close; the last signal the client sent: %v", took.Round(time.Millisecond), sent)
			}
			if sent == syscall.SIGKILL {
				t.Errorf("the client had to SIGKILL mcpcell (%v after the close)", took.Round(time.Millisecond))
			}
			if took > 3500*time.Millisecond {
				t.Errorf("mcpcell took %v after the close, want at most 3.5 s", took.Round(time.Millisecond))
			}
			for what, pid := range map[string]int{"server": tree.server, "detached grandchild": tree.grandchild} {
				if !gone(pid) {
					t.Errorf("the %s (pid %d) survived the client's ladder", what, pid)
				}
			}
			if !c.deaf && !strings.Contains(s.stderr.String(), "stubborn: stdin closed") {
				t.Errorf("the server never saw its stdin close:\n%s", s.stderr.String())
			}
			if end := endRecord(auditRecords(t, profile)); end == nil {
				t.Errorf("the audit log has no end record")
			}
		})
	}
}

// The control: a client that SIGKILLs mcpcell before its ladder is done
// leaves the detached grandchild alive (the parent-death signal reaches
// the server only), so TestClientKillLadder passes only because mcpcell
// finishes in time.
func TestKilledMidLadderLeavesOrphan(t *testing.T) {
	s, tree, profile := startStubborn(t)
	s.in.Close()
	time.Sleep(300 * time.Millisecond) // inside mcpcell's wait for the server to exit
	s.cmd.Process.Kill()
	s.cmd.Wait()
	if !gone(tree.server) {
		t.Errorf("the server (pid %d) outlived a killed mcpcell", tree.server)
	}
	if gone(tree.grandchild) {
		t.Errorf("the detached grandchild died with mcpcell; the ladder test proves nothing")
	}
	if endRecord(auditRecords(t, profile)) != nil {
		t.Errorf("an end record although mcpcell was killed first")
	}
}

// waitStderr waits for what in mcpcell's stderr.
func waitStderr(t *testing.T, s *session, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.stderr.String(), what); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in mcpcell's stderr:\n%s", what, s.stderr.String())
		}
	}
}

// A SIGTERM, SIGINT, SIGHUP, SIGQUIT or SIGABRT that reaches mcpcell while
// its ladder runs kills the server's tree at once: in the wait after EOF
// (no SIGTERM is sent then), in the wait after SIGTERM, and in the wait
// after the SIGTERM an earlier signal sent. The server ignores EOF and
// SIGTERM, so without the escalation mcpcell would wait out each step.
func TestSignalDuringShutdown(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGABRT} {
		for _, phase := range []string{"after-eof", "after-term", "second-signal"} {
			t.Run(sig.String()+"/"+phase, func(t *testing.T) {
				path := writeProfile(t, "")
				s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver", "--ignore-eof", "--ignore-term"))
				pid := serverPid(t, s)
				step := "stdin closed"
				switch phase {
				case "second-signal":
					s.cmd.Process.Signal(sig)
					step = "got SIGTERM"
				case "after-eof":
					s.in.Close()
				case "after-term":
					s.in.Close()
					step = "got SIGTERM"
				}
				waitStderr(t, s, "fakeserver: "+step)
				stepped := stamp(t, s.stderr.String(), step)
				s.cmd.Process.Signal(sig)
				done := make(chan struct{})
				go func() { s.cmd.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatalf("mcpcell still runs 10 s after the signal")
				}
				// The ladder's next step would come a grace after this one
				// began, as the server saw it.
				if took := time.Since(stepped); took > eofGrace/2 {
					t.Errorf("mcpcell ended %v after the server saw %q; want at once, not after the ladder's next wait", took.Round(time.Millisecond), step)
				}
				if phase == "after-eof" && strings.Contains(s.stderr.String(), "got SIGTERM") {
					t.Errorf("the server got SIGTERM; want the ladder cut short before it")
				}
				if code := s.cmd.ProcessState.ExitCode(); code != 128+9 {
					t.Errorf("exit status %d, want %d (the server killed)", code, 128+9)
				}
				if alive(pid) {
					t.Errorf("server pid %d still alive", pid)
				}
			})
		}
	}
}

// rawStart starts mcpcell with its stdout and stderr on pipes of the
// test's own, which it can stop reading or close, and its stdin on a pipe.
// It returns the pipes' read ends; exited is closed when mcpcell exits.
func rawStart(t *testing.T, cmd *exec.Cmd) (in io.WriteCloser, out, errOut *os.File, exited chan struct{}) {
	t.Helper()
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	errW.Close()
	exited = make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		in.Close()
		out.Close()
		errOut.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	return in, out, errOut, exited
}

// rawCall sends a request and reads frames until its response.
func rawCall(t *testing.T, in io.Writer, out *bufio.Reader, id int, method, params string) string {
	t.Helper()
	fmt.Fprintf(in, `{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`+"\n", id, method, params)
	for {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("reading mcpcell's output: %v", err)
		}
		if strings.Contains(line, fmt.Sprintf(`"id":%d,`, id)) {
			return line
		}
	}
}

// A client that vanishes at once (a crash: its stdin, stdout and stderr
// all close) breaks mcpcell's output while the ladder runs; the server's
// last words on stderr must not kill mcpcell by SIGPIPE before it has
// ended the tree, the setsid grandchild among it, and written the end
// record.
func TestClientVanishes(t *testing.T) {
	path := writeProfile(t, "")
	cmd := cellCommand(t, path, os.Args[0], "__fakeserver", "--ignore-eof", "--ignore-term")
	in, out, errOut, exited := rawStart(t, cmd)
	r := bufio.NewReader(out)
	rawCall(t, in, r, 0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	var reply map[string]any
	json.Unmarshal([]byte(rawCall(t, in, r, 1, "tools/call", `{"name":"spawn","arguments":{}}`)), &reply)
	var pids []int
	for _, f := range strings.Fields(resultText(reply)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("spawn: %v", reply)
		}
		pids = append(pids, pid)
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			killIf(pid, "__orphan")
		}
	})
	out.Close()
	errOut.Close()
	in.Close()
	select {
	case <-exited:
	case <-time.After(3500 * time.Millisecond):
		t.Fatalf("mcpcell still runs 3.5 s after the client vanished")
	}
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
		t.Errorf("mcpcell died of %v", ws.Signal())
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("grandchild %d outlived the session", pid)
		}
	}
	if endRecord(auditRecords(t, path)) == nil {
		t.Errorf("the audit log has no end record")
	}
}

// A client that closes stdin and stops reading, while the server floods
// its output, does not hold the session open: mcpcell ends the server by
// its ladder, gives the last frames a moment, and writes the end record,
// all before the client's SIGKILL would come.
func TestClientStopsReading(t *testing.T) {
	path := writeProfile(t, "")
	cmd := cellCommand(t, path, os.Args[0], "__fakeserver", "--ignore-eof", "--ignore-term", "--flood-on-eof")
	in, out, _, exited := rawStart(t, cmd)
	r := bufio.NewReader(out)
	rawCall(t, in, r, 0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	in.Close() // and out is never read again
	select {
	case <-exited:
	case <-time.After(3500 * time.Millisecond):
		t.Fatalf("mcpcell still runs 3.5 s after the client closed stdin")
	}
	recs := auditRecords(t, path)
	end := endRecord(recs)
	if end == nil {
		t.Fatalf("the audit log has no end record")
	}
	if !strings.Contains(end.Note, "not reading") {
		t.Errorf("end record note %q; want it to say the client was not reading", end.Note)
	}
	m := regexp.MustCompile(`\(pid (\d+)\)`).FindStringSubmatch(recs[0].Note)
	if m == nil {
		t.Fatalf("no pid in the start record %q", recs[0].Note)
	}
	if pid, _ := strconv.Atoi(m[1]); alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the server (pid %d) outlived the session", pid)
	}
}

// Descendants that keep changing their pids do not survive the session:
// each forks, the parent exits and the child goes on, as fast as the
// kernel forks, in a session of its own and deaf to SIGTERM, so that a
// scan of the tree finds it gone and its child somewhere the scan has
// read already. Three of them, against a sweep that one may slip past by
// luck. The client plays the SDKs' ladder; mcpcell must end in time,
// with the hoppers dead. The control: the same hopper in the same cell,
// left alone, hops and then settles, leaving its file
// (so the check of the attack's files can fail).
func TestHopperDoesNotSurvive(t *testing.T) {
	path := writeProfile(t, "")
	dir := filepath.Dir(path)
	control := filepath.Join(dir, "control.hop")
	var attack []string
	for i := range 3 {
		attack = append(attack, filepath.Join(dir, fmt.Sprintf("attack%d.hop", i)))
	}
	t.Cleanup(func() {
		for _, f := range append(attack, control) {
			for _, pid := range hopper.Find(f) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)

	s.call(1, "tools/call", fmt.Sprintf(`{"name":"hop","arguments":{"ms":300,"file":%q}}`, control))
	deadline := time.Now().Add(10 * time.Second)
	pid, hops, ok := hopper.Result(control)
	for ; !ok && time.Now().Before(deadline); pid, hops, ok = hopper.Result(control) {
		time.Sleep(20 * time.Millisecond)
	}
	if !ok || hops < 2 { // how fast it hops depends on the machine's load
		t.Fatalf("the control hopper hopped %d times in 0.3 s (settled: %v); the test proves nothing", hops, ok)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Logf("control: %d hops in 0.3 s", hops)

	for i, f := range attack {
		s.call(2+i, "tools/call", fmt.Sprintf(`{"name":"hop","arguments":{"ms":3000,"file":%q}}`, f))
	}
	settled := time.Now().Add(3500 * time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	took, sent := sdkLadder(s, true)
	if sent == syscall.SIGKILL || took > 3500*time.Millisecond {
		t.Errorf("mcpcell exited %v after the close (last signal from the client: %v), want within 3.5 s without SIGKILL", took.Round(time.Millisecond), sent)
	}
	if endRecord(auditRecords(t, path)) == nil {
		t.Errorf("the audit log has no end record")
	}
	time.Sleep(time.Until(settled))
	for _, f := range attack {
		if pid, hops, ok := hopper.Result(f); ok {
			t.Errorf("a hopper survived the session: pid %d after %d hops", pid, hops)
		}
		if left := hopper.Find(f); len(left) > 0 {
			t.Errorf("hopper processes left: %v", left)
		}
	}
}

// A client that sends frames and hangs up at once, while the server is
// slow to start reading, loses none of them: mcpcell sees the hang-up
// before it has read them all and starts its ladder, but keeps the
// server's input open through the EOF wait, so each ping gets the
// server's answer (not mcpcell's "cannot deliver"), and the server, once
// it has read them, sees its input end and exits by itself.
func TestHangupDeliversPending(t *testing.T) {
	path := writeProfile(t, "")
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver", "--slow-start"))
	pid := serverPid(t, s)
	const n = 12 // some 120 KB: more than one pipe holds, less than all of them
	var frames strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&frames, `{"jsonrpc":"2.0","id":%d,"method":"ping","params":{"_meta":{"pad":%q}}}`+"\n", i, strings.Repeat("a", 10000))
	}
	go func() {
		io.WriteString(s.in, frames.String())
		s.in.Close()
	}()
	for i := 1; i <= n; i++ {
		r := s.reply(strconv.Itoa(i))
		if code, msg := errorOf(r); code != 0 {
			t.Errorf("ping %d: error %d %q; want the server's answer", i, code, msg)
		}
	}
	s.cmd.Wait()
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d, want the server's 0 (it exits when its input ends)", code)
	}
	if alive(pid) {
		t.Errorf("server pid %d still alive", pid)
	}
}

// sdkClient is the official TypeScript SDK's client transport, closing a
// session as it does: stdin.end(), 2 s, SIGTERM, 2 s, SIGKILL. When fill
// is set it first sends more than the pipes hold, without waiting, as a
// busy client does. It prints how mcpcell ended, as JSON.
const sdkClient = `
const { StdioClientTransport } = require(process.env.NODE_MODULES + '/@modelcontextprotocol/sdk/dist/cjs/client/stdio.js');
(async () => {
  const [fill, cmd, ...args] = process.argv.slice(2);
  const t = new StdioClientTransport({ command: cmd, args, env: process.env, stderr: 'pipe' });
  let ready;
  const started = new Promise(r => (ready = r));
  t.stderr.on('data', d => { process.stderr.write(d); if (String(d).includes('stubborn: server')) ready(); });
  await t.start();
  const p = t._process;
  let exit = null;
  p.on('exit', (code, signal) => { exit = { code, signal, at: Date.now() }; });
  await started;
  if (fill === 'fill') {
    const pad = 'a'.repeat(100000);
    for (let i = 1; i <= 30; i++) t.send({ jsonrpc: '2.0', id: i, method: 'ping', params: { _meta: { pad } } }).catch(() => {});
    await new Promise(r => setTimeout(r, 500));
  }
  const closed = Date.now();
  await t.close();
  while (!exit) await new Promise(r => setTimeout(r, 10));
  console.log(JSON.stringify({ ms: exit.at - closed, code: exit.code, signal: exit.signal }));
  process.exit(0);
})();
`

// The official TypeScript SDK client closes a session with mcpcell in
// front of the stubborn node server, reading or deaf: mcpcell must exit
// before the SDK's SIGKILL, within 3.5 s, with the server and its
// detached grandchild gone and the end record written. Against the deaf
// server the SDK's end() waits behind writes that mcpcell cannot take,
// so the SDK's SIGTERM is the first mcpcell sees of the close.
func TestTypeScriptSDKClose(t *testing.T) {
	modules := nodeModules(t)
	for _, deaf := range []bool{false, true} {
		t.Run(map[bool]string{false: "reading", true: "deaf"}[deaf], func(t *testing.T) {
			profile := writeProfile(t, "")
			dir := filepath.Dir(profile)
			js, client := filepath.Join(dir, "stubborn.js"), filepath.Join(dir, "client.js")
			os.WriteFile(js, []byte(stubbornServer), 0o600)
			os.WriteFile(client, []byte(sdkClient), 0o600)
			args := []string{"node", js}
			fill := "no"
			if deaf {
				args, fill = append(args, "deaf"), "fill"
			}
			mc := cellCommand(t, profile, args...)
			cmd := exec.Command("node", append([]string{client, fill, mc.Path}, mc.Args[1:]...)...)
			cmd.Env = append(mc.Env, "NODE_MODULES="+modules)
			var stderr syncbuf.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("stderr:\n%s", stderr.String())
				}
			})
			var res struct {
				Ms     int
				Code   *int
				Signal *string
			}
			if err != nil || json.Unmarshal(out, &res) != nil {
				t.Fatalf("the SDK client: %v; output %q", err, out)
			}
			m := regexp.MustCompile(`stubborn: server (\d+) grandchild (\d+)`).FindStringSubmatch(stderr.String())
			if m == nil {
				t.Fatalf("the server never started")
			}
			server, _ := strconv.Atoi(m[1])
			grandchild, _ := strconv.Atoi(m[2])
			t.Cleanup(func() { killIf(server, "stubborn.js"); killIf(grandchild, "stubborn.js") })
			t.Logf("mcpcell exited %d ms after the SDK began to close (status %v, signal %v)", res.Ms, deref(res.Code), deref(res.Signal))
			if res.Signal != nil && *res.Signal == "SIGKILL" {
				t.Errorf("the SDK had to SIGKILL mcpcell")
			}
			if res.Ms > 3500 {
				t.Errorf("mcpcell took %d ms after the close, want at most 3.5 s", res.Ms)
			}
			for what, pid := range map[string]int{"server": server, "detached grandchild": grandchild} {
				if !gone(pid) {
					t.Errorf("the %s (pid %d) survived the SDK's close", what, pid)
				}
			}
			if endRecord(auditRecords(t, profile)) == nil {
				t.Errorf("the audit log has no end record")
			}
		})
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
