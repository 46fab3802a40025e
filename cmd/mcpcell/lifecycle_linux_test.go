package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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

// The shutdown ladder: stdin closed, 2 s, SIGTERM, 2 s, SIGKILL, and
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
	if gap := term.Sub(closed); gap < 1900*time.Millisecond {
		t.Errorf("SIGTERM came %v after stdin closed, want the 2 s grace", gap)
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

// SIGTERM, SIGINT and SIGHUP to mcpcell start the same ladder.
func TestSignalsToMcpcell(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			path := writeProfile(t, "")
			s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
			pid := serverPid(t, s)
			s.cmd.Process.Signal(sig)
			s.cmd.Wait()
			stamp(t, s.stderr.String(), "stdin closed") // closed first, as the ladder says
			if code := s.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit status %d, want the server's 0", code)
			}
			if alive(pid) {
				t.Errorf("server still alive")
			}
		})
	}
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

// No orphans: grandchildren that ignore SIGTERM, one of them in its own
// session, are gone when the session ends, within 5 s.
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
	case <-time.After(5 * time.Second):
		t.Fatalf("mcpcell still running 5 s after the client left")
	}
	for _, pid := range pids {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("grandchild %d outlived the session", pid)
		}
	}
	t.Logf("session over and its tree gone %v after the client closed stdin", time.Since(closed).Round(time.Millisecond))
}
