package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/hopper"
	"golang.org/x/sys/unix"
)

// The test binary is also a hopper (see package hopper) when asked: in
// init, before TestMain, which belongs to the cell's tests.
func init() {
	if len(os.Args) == 4 && os.Args[1] == "__hopper" {
		ms, _ := strconv.Atoi(os.Args[2])
		hopper.Run(ms, os.Args[3])
	}
}

// startHopper starts a hopper for ms milliseconds and returns the file
// it writes when it stops hopping.
func startHopper(t *testing.T, ms int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "hopper")
	cmd := exec.Command(os.Args[0], "__hopper", strconv.Itoa(ms), file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	t.Cleanup(func() {
		for _, pid := range hopper.Find(file) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return file
}

// A process that keeps changing its pid is caught: the sweep ends only
// when the subreaper has no child left, not on a scan that happened to
// find none alive. Three of them, against a sweep one may slip past by
// luck. The control: a hopper left alone hops and settles.
func TestKillDescendantsHopper(t *testing.T) {
	if err := BecomeSubreaper(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })

	control := startHopper(t, 200)
	deadline := time.Now().Add(10 * time.Second)
	_, hops, ok := hopper.Result(control)
	for ; !ok && time.Now().Before(deadline); _, hops, ok = hopper.Result(control) {
		time.Sleep(10 * time.Millisecond)
	}
	if !ok || hops < 2 { // how fast it hops depends on the machine's load
		t.Fatalf("the control hopper hopped %d times in 0.2 s (settled: %v); the test proves nothing", hops, ok)
	}
	KillDescendants(-1)

	var files []string
	for range 3 {
		files = append(files, startHopper(t, 1500))
	}
	time.Sleep(300 * time.Millisecond)
	KillDescendants(-1)
	time.Sleep(1500 * time.Millisecond) // when a survivor would settle
	for _, f := range files {
		if pid, hops, ok := hopper.Result(f); ok {
			t.Errorf("a hopper survived the sweep: pid %d after %d hops", pid, hops)
		}
	}
	if left := descendants(os.Getpid()); len(left) > 0 {
		t.Errorf("the sweep left %v alive", left)
	}
}
