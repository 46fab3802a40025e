package sandbox

import (
	"errors"
	"os"
	"os/signal"
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

// Run reaps and counts the cell until stop is closed, then returns 0. It
// wakes for each SIGCHLD (an orphan died), and every r.Every. When the
// cell holds more than r.Max processes it returns the count it saw at
// once: the caller records why, then kills the cell (KillDescendants).
func (r Reaper) Run(stop <-chan struct{}) int {
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	defer signal.Stop(chld)
	tick := time.NewTicker(r.every())
	defer tick.Stop()
	self := os.Getpid()
	sid, err := unix.Getsid(0)
	if err != nil {
		sid = -1
	}
	for {
		n := 0
		for _, p := range cellProcs(self, sid, r.Server) {
			if p.state == 'Z' && p.ppid == self && p.pid != r.Server {
				// An adopted orphan (or a sibling the server made with
				// CLONE_PARENT), dead: reaped here, whatever its exit
				// signal.
				var ws unix.WaitStatus
				if got, _ := unix.Wait4(p.pid, &ws, unix.WNOHANG|unix.WALL, nil); got == p.pid {
					continue
				}
			}
			n += max(p.threads, 1)
		}
		if r.Max > 0 && n > r.Max {
			return n
		}
		select {
		case <-stop:
			return 0
		case <-chld:
		case <-tick.C:
		}
	}
}

// proc is one process as /proc/PID/stat shows it.
type proc struct {
	pid, ppid, sid, threads int
	state                   byte // 'Z' for a zombie
}

// cellProcs lists the cell's processes below mcpcell (self, whose session
// is sid): those of its children that are the server or in a session
// other than mcpcell's, and everything below them.
func cellProcs(self, sid, server int) []proc {
	children := childrenOf
	kids, ok := childrenOf(self)
	if !ok {
		children = scanChildren() // a kernel without children lists
		kids, _ = children(self)
	}
	var out []proc
	var top []int
	for _, pid := range kids {
		if p, ok := readProc(pid); ok && (pid == server || p.sid != sid) {
			out = append(out, p)
			top = append(top, pid)
		}
	}
	return append(out, below(top, children)...)
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
	if _, ok := childrenOf(root); !ok {
		return nil, false
	}
	return walk(root, childrenOf), true
}

// scanAll reads the parent of every process.
func scanAll(root int) []int {
	return walk(root, scanChildren())
}

// walk lists the live processes below root, children listing each
// process's children.
func walk(root int, children func(int) ([]int, bool)) []int {
	var out []int
	for _, p := range below([]int{root}, children) {
		if p.state != 'Z' {
			out = append(out, p.pid)
		}
	}
	return out
}

// below lists the processes below those of start, breadth first,
// children listing each process's children; one gone before it is read
// is left out, and its children are still looked for.
func below(start []int, children func(int) ([]int, bool)) []proc {
	var out []proc
	queue := append([]int(nil), start...)
	seen := map[int]bool{}
	for _, pid := range start {
		seen[pid] = true
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		kids, _ := children(pid)
		for _, child := range kids {
			if seen[child] {
				continue
			}
			seen[child] = true
			queue = append(queue, child)
			if p, ok := readProc(child); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// childrenOf lists the children of pid from the kernel's per-thread
// children lists (an orphan is on the list of the thread that adopted
// it). It reports false when pid is gone, or when the kernel keeps no
// such lists (CONFIG_PROC_CHILDREN).
func childrenOf(pid int) ([]int, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	var out []int
	for _, task := range tasks {
		b, err := os.ReadFile(dir + task.Name() + "/children")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && task.Name() == strconv.Itoa(pid) {
				return nil, false
			}
			continue // the thread ended meanwhile
		}
		for _, f := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(f); err == nil {
				out = append(out, child)
			}
		}
	}
	return out, true
}

// scanChildren reads the parent of every process once and answers from
// that.
func scanChildren() func(int) ([]int, bool) {
	byParent := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok && p.ppid > 0 {
			byParent[p.ppid] = append(byParent[p.ppid], pid)
		}
	}
	return func(pid int) ([]int, bool) { return byParent[pid], true }
}

func parentOf(pid int) int {
	p, _ := readProc(pid)
	return p.ppid
}

// readProc reads /proc/PID/stat.
func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 || i+2 > len(s) {
		return proc{}, false
	}
	// state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime stime cutime cstime priority nice num_threads
	f := strings.Fields(s[i+2:])
	if len(f) < 18 || len(f[0]) != 1 {
		return proc{}, false
	}
	p := proc{pid: pid, state: f[0][0]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.sid, _ = strconv.Atoi(f[3])
	p.threads, _ = strconv.Atoi(f[17])
	return p, true
}
