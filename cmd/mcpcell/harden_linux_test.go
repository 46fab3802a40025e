package main

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hardenCase is one attack of issue 10 on what the cell keeps from the
// server: other processes, root's capabilities, its session, namespaces,
// and exec. It is tried by a fake server in a full cell against mcpcell
// and must fail there; the control tries it against a stand-in victim
// (a sleep of the test's) from a cell with the parts named by off
// switched off (MCPCELL_TEST_UNHARDEN), or unconfined when off is "", and
// must work there, so that the test can fail.
type hardenCase struct {
	name, what, target string
	off                string
	root               bool // the control needs root (capabilities, another uid)
}

// hardenCases are the attacks. Renicing and rescheduling a process whose
// capabilities are not a subset of the caller's needs CAP_SYS_NICE, so
// for a root server dropping its capabilities already stops those: their
// controls switch both parts off. prlimit64 has no such check.
//
// Landlock keeps a process from tracing one outside its domain, but on
// this kernel (6.18) a process in a domain that held capabilities still
// passed the read-mode checks: a root server read mcpcell's
// /proc/PID/environ (with /proc granted) and used process_madvise on it.
// Without capabilities those fail; a remote process_madvise needs
// CAP_SYS_NICE besides.
//
// In target, {pid} and {pgid} are mcpcell's
// in the cell and the victim's in the control; {nobody} is the uid of a
// second victim (65534, when the test runs as root); {project} is the
// server's project folder, which holds a copy of true (readable, not
// executable by the cell's grants) and a file named owned.
var hardenCases = []hardenCase{
	{"prlimit64 on mcpcell (RLIMIT_CPU)", "prlimit", "{pid}", "processes", false},
	{"setpriority on mcpcell", "setpriority", "process {pid}", "processes,caps", false},
	{"setpriority on mcpcell's process group", "setpriority", "pgrp {pgid}", "processes,caps", false},
	{"setpriority on every process of a user", "setpriority", "user {nobody}", "processes,caps", true},
	{"ioprio_set on mcpcell", "ioprio_set", "process {pid}", "processes,caps", false},
	{"ioprio_set on mcpcell's process group", "ioprio_set", "pgrp {pgid}", "processes,caps", false},
	{"ioprio_set on every process of a user", "ioprio_set", "user {nobody}", "processes,caps", true},
	{"sched_setaffinity on mcpcell", "sched_setaffinity", "{pid}", "processes,caps", false},
	{"sched_setscheduler on mcpcell", "sched_setscheduler", "{pid}", "processes,caps", false},
	{"sched_setparam on mcpcell", "sched_setparam", "{pid}", "processes,caps", false},
	{"sched_setattr on mcpcell", "sched_setattr", "{pid}", "processes,caps", false},
	{"migrate_pages of mcpcell", "migrate_pages", "{pid}", "", false},
	{"move_pages of mcpcell", "move_pages", "{pid}", "", false},
	{"kcmp with mcpcell", "kcmp", "{pid}", "", false},
	{"get_robust_list of mcpcell", "get_robust_list", "{pid}", "", false},
	{"tgkill mcpcell", "tgkill", "{pid}", "", false},
	{"pidfd_send_signal to mcpcell", "pidfd_send_signal", "{pid}", "", false},
	{"pidfd_getfd from mcpcell", "pidfd_getfd", "{pid}", "", false},
	{"process_madvise on mcpcell (root)", "process_madvise", "{pid}", "caps", true},
	{"read mcpcell's environment in /proc (root)", "environ", "{pid}", "caps", true},
	{"join mcpcell's process group (setpgid)", "setpgid", "{pgid}", "session", false},
	{"hold a capability (root)", "caps", "", "caps", true},
	{"run a program that holds a capability (root)", "exec-caps", "/usr/bin/cat /proc/self/status", "caps", true},
	{"sethostname on the host (root)", "sethostname", "", "caps", true},
	{"chown a file to another user (root)", "chown", "{project}/owned", "caps", true},
	{"clone into a new user namespace", "clone", "user", "clone", false},
	{"clone into new user and network namespaces", "clone", "user,net", "clone", false},
	{"clone into new user and mount namespaces", "clone", "user,ns", "clone", false},
	{"clone into new user and pid namespaces", "clone", "user,pid", "clone", false},
	{"clone into new user, IPC and UTS namespaces", "clone", "user,ipc,uts", "clone", false},
	{"clone into new user and cgroup namespaces", "clone", "user,cgroup", "clone", false},
	{"clone3, whose flags seccomp cannot read", "clone3", "", "clone", false},
	{"clone3 into new user and time namespaces", "clone3", "user,time", "clone", false},
	{"exec a memfd (execveat AT_EMPTY_PATH)", "memfd-exec", "{project}/true", "memfd", false},
	{"exec a memfd through /proc/self/fd", "memfd-exec-proc", "{project}/true", "memfd", false},
	{"exec a readable file outside the exec grants", "exec-file", "{project}/true", "", false},
	{"fexecve a readable file outside the exec grants", "fexecve-file", "{project}/true", "", false},
}

// hardenTargets fills a case's target.
type hardenTargets struct{ pid, pgid, nobody, project string }

func (h hardenTargets) fill(s string) string {
	return strings.NewReplacer("{pid}", h.pid, "{pgid}", h.pgid, "{nobody}", h.nobody, "{project}", h.project).Replace(s)
}

// hardenProfile grants /proc for exec-caps, which reads a child's
// capabilities there.
const hardenProfile = "[filesystem]\nread = [\"/proc\"]\n"

// startHardened starts mcpcell in a process group of its own (so that
// {pgid} is its own), running the fake server in a cell with off switched
// off, and fills the server's project for hardenCases.
func startHardened(t *testing.T, profile, off string) (*session, string) {
	t.Helper()
	path := writeProfile(t, profile)
	project := filepath.Dir(path)
	fillProject(t, project)
	cmd := cellCommand(t, path, os.Args[0], "__fakeserver")
	cmd.Env = append(cmd.Env, unhardenEnv+"="+off)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s := startSession(t, cmd)
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"attacker","version":"1"}}`)
	return s, project
}

// fillProject puts a copy of true and a file named owned in dir.
func fillProject(t *testing.T, dir string) {
	t.Helper()
	truePath, err := exec.LookPath("true")
	if err == nil {
		truePath, err = filepath.EvalSymlinks(truePath)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(truePath)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"true": b, "owned": []byte("mine\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// tryEscape calls the fake server's escape tool.
func tryEscape(s *session, id int, what, target string) string {
	args, _ := json.Marshal(map[string]string{"what": what, "target": target})
	return resultText(s.call(id, "tools/call", `{"name":"escape","arguments":`+string(args)+`}`))
}

// startVictim starts a sleep in a process group of its own, as uid when
// uid >= 0, to stand in for mcpcell in the controls.
func startVictim(t *testing.T, uid int) *exec.Cmd {
	t.Helper()
	v := exec.Command("sleep", "600")
	v.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if uid >= 0 {
		v.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}
	}
	if err := v.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Process.Kill(); v.Wait() })
	return v
}

// TestHardenedCell runs hardenCases: each fails in the full cell and
// works in its control. The table it logs is the one in the report.
func TestHardenedCell(t *testing.T) {
	root := os.Geteuid() == 0
	victim := startVictim(t, -1)
	nobody := "65534"
	if root {
		startVictim(t, 65534)
	}
	confined, project := startHardened(t, hardenProfile, "")
	mcpcell := strconv.Itoa(confined.cmd.Process.Pid)
	inCell := hardenTargets{pid: mcpcell, pgid: mcpcell, nobody: nobody, project: project}
	vpid := strconv.Itoa(victim.Process.Pid)
	controls := map[string]*session{}
	controlProject := map[string]string{}
	table := []string{"| attack | in the cell | control | control's result |", "|---|---|---|---|"}
	for i, c := range hardenCases {
		got := tryEscape(confined, 100+i, c.what, inCell.fill(c.target))
		if !strings.HasPrefix(got, "denied") {
			t.Errorf("%s: in the cell it worked: %s", c.name, got)
		}
		how := "unconfined"
		var control string
		switch {
		case c.root && !root:
			how, control = "skipped (not root)", "-"
		case c.off == "":
			dir := t.TempDir()
			fillProject(t, dir)
			control = escape(c.what, hardenTargets{pid: vpid, pgid: vpid, nobody: nobody, project: dir}.fill(c.target))
		default:
			how = "cell without " + c.off
			s := controls[c.off]
			if s == nil {
				s, controlProject[c.off] = startHardened(t, hardenProfile, c.off)
				controls[c.off] = s
			}
			control = tryEscape(s, 100+i, c.what, hardenTargets{pid: vpid, pgid: vpid, nobody: nobody, project: controlProject[c.off]}.fill(c.target))
		}
		if control != "-" && !strings.HasPrefix(control, "ok") {
			t.Errorf("%s: %s it failed too, so the test proves nothing: %s", c.name, how, control)
		}
		table = append(table, fmt.Sprintf("| %s | %s | %s | %s |", c.name, got, how, control))
	}
	t.Logf("attacks:\n%s", strings.Join(table, "\n"))
	var offs []string
	for off := range controls {
		offs = append(offs, off)
	}
	sort.Strings(offs)
	t.Logf("control cells: %s", strings.Join(offs, "; "))
}

// openPty opens a pseudo-terminal pair of the test's own.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// The controlling terminal: mcpcell leads a session whose terminal is a
// pseudo-terminal of the test's own, as when a user runs it from a shell.
//
// vhangup (root) hangs up the caller's controlling terminal, and the
// kernel sends SIGHUP to the session's leader. In the cell the call fails
// (no CAP_SYS_TTY_CONFIG) and mcpcell goes on. With capabilities kept it
// succeeds but reaches no terminal: the server's session of its own has
// none. With mcpcell's session kept as well, mcpcell gets SIGHUP and the
// session ends, as the review saw.
//
// TIOCSTI types into the terminal's input, where the user's shell reads
// it: it needs the terminal to be the caller's controlling one. The
// profile grants /dev/tty; in the cell the server has no controlling
// terminal to open; with mcpcell's session kept, it types.
func TestControllingTerminal(t *testing.T) {
	root := os.Geteuid() == 0
	for _, c := range []struct {
		what, off string
		want      string // the result's prefix; "hangup": mcpcell's session ends
	}{
		{"vhangup", "", "denied"},
		{"vhangup", "caps", "ok"},
		{"vhangup", "caps,session", "hangup"},
		{"tiocsti", "", "denied"},
		{"tiocsti", "session", "ok"},
	} {
		t.Run(c.what+"/without "+c.off, func(t *testing.T) {
			if c.what == "vhangup" && !root {
				t.Skip("skipped: vhangup needs a capability only root has to lose")
			}
			_, tty := openPty(t)
			path := writeProfile(t, "[filesystem]\nwrite = [\"/dev/tty\"]\n")
			cmd := cellCommand(t, path, os.Args[0], "__fakeserver")
			cmd.Env = append(cmd.Env, unhardenEnv+"="+c.off)
			cmd.ExtraFiles = []*os.File{tty}
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 3}
			s := startSession(t, cmd)
			s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"attacker","version":"1"}}`)
			const typed = "echo pwned\n"
			args, _ := json.Marshal(map[string]string{"what": c.what, "target": typed})
			s.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"escape","arguments":` + string(args) + `}}`)
			if c.want == "hangup" {
				exited := make(chan struct{})
				go func() { s.cmd.Wait(); close(exited) }()
				select {
				case <-exited:
					// mcpcell's ladder, which SIGHUP starts: the server's stdin
					// closes and a SIGTERM comes at once; it reports the first.
					for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
						if e := s.stderr.String(); strings.Contains(e, "fakeserver: stdin closed") || strings.Contains(e, "fakeserver: got SIGTERM") {
							break
						}
						if time.Now().After(deadline) {
							t.Fatalf("mcpcell exited without its ladder reaching the server:\n%s", s.stderr.String())
						}
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("mcpcell still runs 10 s after the server hung up its terminal; the control shows nothing")
				}
				return
			}
			got := resultText(s.reply("1"))
			t.Logf("%s in a cell without %q: %s", c.what, c.off, got)
			if !strings.HasPrefix(got, c.want) {
				t.Errorf("%s in the cell without %q: %s, want %s", c.what, c.off, got, c.want)
			}
			if in := ttyInput(tty); c.what == "tiocsti" && (in == typed) != (c.want == "ok") {
				t.Errorf("the terminal's input is %q after the server's TIOCSTI", in)
			}
			if m := s.call(2, "ping", `{}`); m["result"] == nil {
				t.Errorf("mcpcell stopped answering after the server's %s: %v", c.what, m)
			}
			if !alive(s.cmd.Process.Pid) {
				t.Errorf("mcpcell exited after the server's %s", c.what)
			}
		})
	}
}

// ttyInput reads what waits in the terminal's input, if anything.
func ttyInput(tty *os.File) string {
	fds := []unix.PollFd{{Fd: int32(tty.Fd()), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 200); n < 1 {
		return ""
	}
	b := make([]byte, 256)
	n, _ := unix.Read(int(tty.Fd()), b)
	return string(b[:max(n, 0)])
}

// interpreter is the dynamic loader an ELF file names (PT_INTERP).
func interpreter(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	t.Fatalf("%s names no dynamic loader", path)
	return ""
}

// The limits README's "Limits" names, checked so that the README stays
// true. A memfd the cell allows is sealed against execution: it can be
// made and filled, never made executable. A readable file no exec grant
// covers cannot be executed, but the dynamic loader, which every
// dynamically linked program needs to be executable, runs it when named
// as its program: the loader maps the file itself, and Landlock does not
// rule mmap.
func TestExecLimits(t *testing.T) {
	s, project := startHardened(t, "", "")
	if got := tryEscape(s, 1, "memfd-sealed-exec", project+"/true"); !strings.HasPrefix(got, "denied: filling the memfd") {
		t.Errorf("a sealed memfd: %s; want it made, and refused execute permission", got)
	}
	if got := tryEscape(s, 2, "exec-file", project+"/true"); !strings.HasPrefix(got, "denied") {
		t.Errorf("exec of a file outside the exec grants: %s", got)
	}
	ld := interpreter(t, project+"/true")
	if got := tryEscape(s, 3, "loader", ld+" "+project+"/true"); !strings.HasPrefix(got, "ok") {
		t.Errorf("%s %s/true: %s; the README's Limits say the loader runs it: update them", ld, project, got)
	}
}
