package sandbox

import (
	"os"
	"os/exec"
	"slices"
	"testing"
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
