package sandbox

import "time"

// Reaper watches the cell while the server runs. On Linux it reaps the
// orphans mcpcell adopts (BecomeSubreaper) as they die, rather than at the
// session's end, and counts the cell's processes against Max. A reaper
// cannot refuse a fork: a cell over its cap is to be killed whole
// (KillDescendants), server, descendants and adopted orphans.
//
// The cell's processes are the server, its descendants, and the orphans
// mcpcell adopted from them, told from mcpcell's other children by their
// session: the server runs in a session of its own, which no process
// outside the cell can join. Each thread counts as a process, as it does
// for the kernel's pid space and the pids cgroup; a zombie counts until it
// is reaped.
type Reaper struct {
	Server int // the server's pid, which Server.Wait reaps: never reaped here
	Max    int // the most processes the cell may hold; 0 for no cap
	// Every is how often the cell is counted when no child dies in
	// between; 0 means 100 ms. A fork is seen at the next count.
	Every time.Duration
}

func (r Reaper) every() time.Duration {
	if r.Every > 0 {
		return r.Every
	}
	return 100 * time.Millisecond
}
