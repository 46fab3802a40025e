package sandbox

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// BecomeSubreaper makes mcpcell the parent of every orphan the server
// leaves, so that a grandchild that calls setsid or double-forks is still
// found and killed.
func BecomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// KillDescendants SIGKILLs every process below mcpcell, over and over
// until none is left (a process may fork while it is being killed), and
// reaps those it adopted. exclude is a pid another goroutine waits for.
// It returns how many processes it killed.
func KillDescendants(exclude int) int {
	self := os.Getpid()
	killed := map[int]bool{}
	for round := 0; round < 100; round++ {
		found := descendants(self)
		if len(found) == 0 {
			break
		}
		for _, pid := range found {
			syscall.Kill(pid, syscall.SIGKILL)
			killed[pid] = true
		}
		for _, pid := range found {
			if pid != exclude && parentOf(pid) == self {
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, 0, nil)
			}
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
