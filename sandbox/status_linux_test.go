package sandbox

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openFDs counts this process's open file descriptors.
// openFDs are the process's open file descriptors, by number.
func openFDs(t *testing.T) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]bool{}
	for _, e := range ents {
		open[e.Name()] = true
	}
	return open
}

// newFDs are the descriptors open now that were not in before.
func newFDs(t *testing.T, before map[string]bool) []string {
	t.Helper()
	var fds []string
	for fd := range openFDs(t) {
		if !before[fd] {
			fds = append(fds, fd)
		}
	}
	return fds
}

// readStatus keeps the sockets of the first 'l' report when their count
// is the one asked for; anything else is a problem, and every file
// descriptor it received but did not keep is closed.
func TestReadStatus(t *testing.T) {
	type msg struct {
		rep report
		fds int
	}
	ok := msg{report{SetupMicros: 1, ABI: 7}, 0}
	for _, c := range []struct {
		name    string
		msgs    []msg
		want    int
		kept    int
		problem string
	}{
		{"sockets as asked", []msg{{report{Sockets: 2}, 2}, ok}, 2, 2, ""},
		{"no sockets, none asked", []msg{ok}, 0, 0, ""},
		{"fewer than asked", []msg{{report{Sockets: 2}, 2}, ok}, 3, 0, "sent 2 sockets, want 3"},
		{"more than the report says", []msg{{report{Sockets: 1}, 2}, ok}, 2, 0, "does not count them"},
		{"none asked", []msg{{report{Sockets: 1}, 1}, ok}, 0, 0, "sent 1 sockets, want 0"},
		{"twice", []msg{{report{Sockets: 1}, 1}, {report{Sockets: 1}, 1}, ok}, 1, 0, "twice"},
		{"with another report", []msg{{report{Sockets: 1}, 1}, {ok.rep, 1}}, 1, 0, "with a report that carries none"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := openFDs(t)
			ours, theirs, err := statusPair()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range c.msgs {
				var fds []int
				for range m.fds {
					fd, err := unix.Dup(0)
					if err != nil {
						t.Fatal(err)
					}
					fds = append(fds, fd)
				}
				var oob []byte
				if len(fds) > 0 {
					oob = unix.UnixRights(fds...)
				}
				if err := unix.Sendmsg(int(theirs.Fd()), encodeReport(m.rep), oob, nil, 0); err != nil {
					t.Fatal(err)
				}
				for _, fd := range fds {
					unix.Close(fd)
				}
			}
			theirs.Close()
			_, sockets, problem := readStatus(ours, c.want)
			ours.Close()
			if len(sockets) != c.kept || !strings.Contains(problem, c.problem) {
				t.Errorf("kept %d sockets, problem %q; want %d, %q", len(sockets), problem, c.kept, c.problem)
			}
			for _, s := range sockets {
				s.Close()
			}
			// A descriptor open now that was not before is a received one
			// kept; one another test's goroutine closed meanwhile is none.
			if fds := newFDs(t, before); len(fds) > 0 {
				t.Errorf("file descriptors %v are open, and were not before: received ones leaked", fds)
			}
		})
	}
}
