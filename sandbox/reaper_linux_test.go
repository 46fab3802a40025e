package sandbox

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Both ways of finding descendants agree, and find a grandchild.
func TestDescendants(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer KillDescendants(cmd.Process.Pid)
	self := os.Getpid()
	for i := 0; i < 100; i++ {
		if len(scanAll(self)) >= 3 {
			break
		}
		exec.Command("sleep", "0.01").Run()
	}
	walked, ok := childrenWalk(self)
	if !ok {
		t.Skip("this kernel keeps no children lists")
	}
	scanned := scanAll(self)
	slices.Sort(walked)
	slices.Sort(scanned)
	if !slices.Equal(walked, scanned) || len(walked) < 3 || !slices.Contains(walked, cmd.Process.Pid) {
		t.Errorf("children walk %v, full scan %v; want the same, with sh and its two sleeps", walked, scanned)
	}
	if n := KillDescendants(-1); n < 3 {
		t.Errorf("killed %d, want 3", n)
	}
	cmd.Wait()
}

// zombieChildren counts this process's children that are zombies.
func zombieChildren(t *testing.T) int {
	t.Helper()
	kids, ok := childrenOf(os.Getpid())
	if !ok {
		t.Skip("this kernel keeps no children lists")
	}
	n := 0
	for _, pid := range kids {
		if p, ok := readProc(pid); ok && p.state == 'Z' {
			n++
		}
	}
	return n
}

// A server in a cell leaves orphans that die while it runs. The reaper
// reaps them as they die and leaves the server's own status to Wait; the
// control, without it, shows them zombies under their subreaper.
func TestReaperReapsOrphans(t *testing.T) {
	if err := BecomeSubreaper(); err != nil {
		t.Fatal(err)
	}
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, reap := range []bool{true, false} {
		cell := sleepCell(t)
		cell.Spec.Command = []string{"sh", "-c", "for i in 1 2 3 4 5 6 7 8; do (sleep 0.2 &); done; sleep 1; exit 7"}
		cell.Spec.Path = sh
		srv, err := Start(cell, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if reap {
			go Reaper{Server: srv.Pid()}.Run(srv.Done())
		}
		if code := srv.Wait(); code != 7 {
			t.Errorf("reaping %v: the server's status %d, want 7", reap, code)
		}
		if z := zombieChildren(t); reap && z != 0 || !reap && z != 8 {
			t.Errorf("reaping %v: %d zombies left, want %d", reap, z, map[bool]int{true: 0, false: 8}[reap])
		}
		KillDescendants(-1)
		if z := zombieChildren(t); z != 0 {
			t.Errorf("KillDescendants left %d zombies", z)
		}
	}
}

// The cell's processes are the server and those in a session other than
// mcpcell's with all below them; a child of mcpcell's own session is not
// counted. A cell over Max ends Run with the count.
func TestReaperCounts(t *testing.T) {
	own := exec.Command("sleep", "30") // mcpcell's own, in its session
	cellish := exec.Command("sh", "-c", "sleep 30 & sleep 30")
	setProcAttr(cellish, 0, false) // a session of its own, as the server has
	for _, c := range []*exec.Cmd{own, cellish} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Process.Kill()
	}
	self := os.Getpid()
	sid, _ := unix.Getsid(0)
	var pids []int
	for deadline := time.Now().Add(5 * time.Second); len(pids) < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		pids = pids[:0]
		for _, p := range cellProcs(self, sid, -1) {
			pids = append(pids, p.pid)
		}
	}
	if len(pids) != 3 || !slices.Contains(pids, cellish.Process.Pid) || slices.Contains(pids, own.Process.Pid) {
		t.Errorf("cell processes %v; want sh (%d) and its two sleeps, not sleep %d", pids, cellish.Process.Pid, own.Process.Pid)
	}
	stop := make(chan struct{})
	if n := (Reaper{Max: 2, Every: time.Millisecond}).Run(stop); n != 3 {
		t.Errorf("Run over a cap of 2 returned %d, want 3", n)
	}
	close(stop)
	if n := (Reaper{Max: 3, Every: time.Millisecond}).Run(stop); n != 0 {
		t.Errorf("Run under its cap, stopped, returned %d", n)
	}
	KillDescendants(-1)
	own.Wait()
	cellish.Wait()
}

// waitZombie waits until pid is a zombie.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if p, ok := readProc(pid); ok && p.state == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d is not a zombie 5 s on", pid)
		}
	}
}

// One pass of the reaper reaps a dead process of the cell and leaves the
// dead server to its own Wait, which gets its status: had the reaper
// taken it, Wait would fail.
func TestReaperLeavesTheServer(t *testing.T) {
	server := exec.Command("sh", "-c", "exit 7")
	orphan := exec.Command("true")
	for _, c := range []*exec.Cmd{server, orphan} {
		setProcAttr(c, 0, false)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		waitZombie(t, c.Process.Pid)
	}
	stop := make(chan struct{})
	close(stop) // one pass
	Reaper{Server: server.Process.Pid}.Run(stop)
	if _, ok := readProc(orphan.Process.Pid); ok {
		t.Errorf("the dead process of the cell was not reaped")
	}
	if code := exitCode(server.Wait()); code != 7 {
		t.Errorf("the server's status %d, want 7: the reaper took it", code)
	}
}
