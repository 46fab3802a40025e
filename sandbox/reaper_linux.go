package sandbox

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// BecomeSubreaper makes mcpcell the parent of every orphan the server
// leaves, so that a grandchild that calls setsid or double-forks is still
// found and killed.
func BecomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// childLister returns a function that calls fn on each child of a
// process, live or not yet reaped, as soon as it reads it: from the
// kernel's per-thread children lists, read afresh at each call, or, on a
// kernel without them (CONFIG_PROC_CHILDREN), from one reading of every
// process's parent.
func childLister(self int) func(pid int, fn func(int)) {
	fromLists := func(pid int, fn func(int)) bool {
		dir := "/proc/" + strconv.Itoa(pid) + "/task/"
		tasks, _ := os.ReadDir(dir)
		listed := false
		for _, task := range tasks {
			b, err := os.ReadFile(dir + task.Name() + "/children")
			if err != nil {
				continue // the thread ended, or no children lists
			}
			listed = true
			for _, f := range strings.Fields(string(b)) {
				if child, err := strconv.Atoi(f); err == nil {
					fn(child)
				}
			}
		}
		return listed
	}
	if fromLists(self, func(int) {}) {
		return func(pid int, fn func(int)) { fromLists(pid, fn) }
	}
	byParent := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if pp := parentOf(pid); pp > 0 {
				byParent[pp] = append(byParent[pp], pid)
			}
		}
	}
	return func(pid int, fn func(int)) {
		for _, child := range byParent[pid] {
			fn(child)
		}
	}
}

// exited reports whether pid, a child of mcpcell, has exited (or is no
// child of mcpcell's), without reaping it.
func exited(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
	return err != nil || info.Signo == int32(syscall.SIGCHLD)
}

// reaped reaps pid, a child of mcpcell, if it has exited.
func reaped(pid int) bool {
	var ws unix.WaitStatus
	got, err := unix.Wait4(pid, &ws, unix.WNOHANG|unix.WALL, nil)
	return got == pid || err == unix.ECHILD
}

// sweepFor bounds KillDescendants: a process it cannot end in that time
// (one stuck in the kernel, say) is left, so that mcpcell still writes
// its end record before a client's SIGKILL.
const sweepFor = 500 * time.Millisecond

// KillDescendants SIGKILLs every process below mcpcell, over and over
// until none is left (a process may fork while it is being killed), and
// reaps those it adopted. exclude is a pid another goroutine waits for.
// It returns how many processes it killed.
//
// The sweep ends only when mcpcell has no child left but exclude, dead
// before the round began; never on a scan that found nothing alive below
// its children: a process that forks and exits while a scan reads the
// tree hands its child to mcpcell, the subreaper, behind the scan's back
// (even while mcpcell reads its own list). That child joins mcpcell's
// list before its parent dies, and the dead parent stays on the list
// until reaped, so a round that finds the list empty missed no one; twice
// in a row, since another sweep may reap a parent while this one reads.
// Each process is stopped the moment it is read, or one that hops (forks,
// then exits, at once) would always be a hop ahead; stopped, it keeps
// its children where the scan looks next, and all are killed at the end
// of the round. The sweep gives up after sweepFor.
func KillDescendants(exclude int) int {
	self := os.Getpid()
	killed := map[int]bool{}
	for deadline, empty := time.Now().Add(sweepFor), 0; empty < 2 && time.Now().Before(deadline); {
		children := childLister(self)
		excludeGone := exited(exclude)
		listed := false
		var stopped []int
		queue := []int{self}
		for len(queue) > 0 && time.Now().Before(deadline) {
			parent := queue[0]
			queue = queue[1:]
			children(parent, func(pid int) {
				if parent == self {
					if pid == exclude && excludeGone {
						return
					}
					listed = true
					if pid != exclude && reaped(pid) {
						return
					}
				}
				syscall.Kill(pid, syscall.SIGSTOP)
				stopped = append(stopped, pid)
				queue = append(queue, pid)
			})
		}
		for _, pid := range stopped {
			syscall.Kill(pid, syscall.SIGKILL)
			killed[pid] = true
		}
		if !listed {
			empty++
			continue
		}
		empty = 0
		if len(stopped) > 0 {
			time.Sleep(time.Millisecond) // the killed need a moment to die
		}
	}
	return len(killed)
}

// descendants lists the live (not zombie) processes below root: through
// the kernel's per-thread children lists where it keeps them, else by
// reading every process's parent.
func descendants(root int) []int {
	if out, ok := childrenWalk(root); ok {
		return out
	}
	return scanAll(root)
}

// childrenWalk follows /proc/PID/task/TID/children from root down.
func childrenWalk(root int) ([]int, bool) {
	var out []int
	queue := []int{root}
	seen := map[int]bool{root: true}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		if err != nil {
			if pid == root {
				return nil, false
			}
			continue // it exited meanwhile
		}
		for _, task := range tasks {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/children")
			if err != nil {
				if pid == root && errors.Is(err, os.ErrNotExist) {
					return nil, false // a kernel without CONFIG_PROC_CHILDREN
				}
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				child, err := strconv.Atoi(f)
				if err != nil || seen[child] {
					continue
				}
				seen[child] = true
				queue = append(queue, child)
				if _, state := stat(child); state != 'Z' && state != 0 {
					out = append(out, child)
				}
			}
		}
	}
	return out, true
}

// scanAll reads the parent of every process.
func scanAll(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, state := stat(pid); pp > 0 && state != 'Z' {
			parent[pid] = pp
		}
	}
	var out []int
	for pid := range parent {
		for p, hops := parent[pid], 0; p > 0 && hops < 1000; p, hops = parent[p], hops+1 {
			if p == root {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

func parentOf(pid int) int {
	pp, _ := stat(pid)
	return pp
}

// stat reads the parent pid and state of pid from /proc/PID/stat.
func stat(pid int) (ppid int, state byte) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 || i+4 > len(s) {
		return 0, 0
	}
	fields := strings.Fields(s[i+2:])
	if len(fields) < 2 {
		return 0, 0
	}
	ppid, _ = strconv.Atoi(fields[1])
	return ppid, fields[0][0]
}
