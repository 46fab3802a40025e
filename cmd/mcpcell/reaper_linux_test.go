package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procState reads the state letter and session of pid ('Z' for a zombie;
// 0 when it is gone).
func procState(pid int) (state byte, sid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	sid, _ = strconv.Atoi(f[3])
	return f[0][0], sid
}

// childrenOfPid lists the children of pid, zombies among them.
func childrenOfPid(pid int) []int {
	tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	var out []int
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/children")
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			out = append(out, n)
		}
	}
	return out
}

// inSession lists the processes of session sid.
func inSession(sid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, s := procState(pid); st != 0 && s == sid {
			out = append(out, pid)
		}
	}
	return out
}

// orphansOf counts the children of mcpcell but the server: live, and
// zombies.
func orphansOf(mcpcell, server int) (live, zombies int) {
	for _, pid := range childrenOfPid(mcpcell) {
		switch st, _ := procState(pid); {
		case pid == server || st == 0:
		case st == 'Z':
			zombies++
		default:
			live++
		}
	}
	return live, zombies
}

// The review's zombies: a server leaves 150 orphans that die a second
// later. mcpcell adopts them (it is their subreaper) and now reaps them
// as they die; the control, with the reaper off, shows them staying
// zombies under mcpcell for the rest of the session. Either way the
// server's own exit status still reaches mcpcell: reaping never takes it.
func TestOrphansReaped(t *testing.T) {
	const n = 150
	for _, off := range []string{"", "reaper"} {
		t.Run("without "+off, func(t *testing.T) {
			s, _ := startHardened(t, "", off)
			mcpcell, server := s.cmd.Process.Pid, serverPid(t, s)
			if got := tryEscape(s, 1, "orphans", strconv.Itoa(n)+" 1"); !strings.HasPrefix(got, "ok") {
				t.Fatalf("orphans: %s", got)
			}
			seen := 0
			var live, zombies int
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				live, zombies = orphansOf(mcpcell, server)
				seen = max(seen, live+zombies)
				if off == "" && seen >= n && live+zombies == 0 || off != "" && zombies == n {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("15 s on, mcpcell has %d live orphans and %d zombies (%d at most)", live, zombies, seen)
				}
			}
			if off != "" {
				time.Sleep(500 * time.Millisecond)
				if _, z := orphansOf(mcpcell, server); z != n {
					t.Errorf("the control's %d zombies went to %d", n, z)
				}
			}
			t.Logf("without %q: %d orphans adopted by mcpcell; now %d zombies", off, seen, zombies)
			s.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"die","arguments":{}}}`)
			s.cmd.Wait()
			if code := s.cmd.ProcessState.ExitCode(); code != 3 {
				t.Errorf("mcpcell exited with %d, want the server's 3", code)
			}
		})
	}
}

// [sandbox] max_processes: a server that forks past the cap, by orphans
// mcpcell adopts or by a tree of descendants (a fork bomb with a bound),
// has its whole cell killed, and the session ends with a message on
// stderr and in the audit log. The control, with a cap above what it
// forks, shows the same processes running.
func TestProcessCap(t *testing.T) {
	for _, c := range []struct {
		name, what, target string
		n                  int
	}{{"orphans", "orphans", "100 60", 100}, {"tree", "forktree", "7 60", 128}} {
		for _, limit := range []int{32, 4096} {
			t.Run(c.name+"/max "+strconv.Itoa(limit), func(t *testing.T) {
				profile := "[sandbox]\nmax_processes = " + strconv.Itoa(limit) + "\n"
				path := writeProfile(t, profile)
				s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
				s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"attacker","version":"1"}}`)
				server := serverPid(t, s) // the leader of the cell's session
				t.Cleanup(func() {
					for _, pid := range inSession(server) {
						killIf(pid, "__fakeserver")
					}
				})
				s.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"escape","arguments":{"what":"` + c.what + `","target":"` + c.target + `"}}}`)
				if limit > c.n {
					if got := resultText(s.reply("1")); !strings.HasPrefix(got, "ok") {
						t.Fatalf("%s: %s", c.what, got)
					}
					for deadline := time.Now().Add(15 * time.Second); len(inSession(server)) < c.n; time.Sleep(20 * time.Millisecond) {
						if time.Now().After(deadline) {
							t.Fatalf("the cell holds %d processes, want %d or more", len(inSession(server)), c.n)
						}
					}
					time.Sleep(300 * time.Millisecond) // some counts of the reaper's
					if m := s.call(2, "ping", `{}`); m["result"] == nil {
						t.Errorf("the session ended under the cap: %v", m)
					}
					return
				}
				exited := make(chan struct{})
				go func() { s.cmd.Wait(); close(exited) }()
				select {
				case <-exited:
				case <-time.After(15 * time.Second):
					t.Fatalf("mcpcell still runs 15 s after the server forked %d processes past max_processes = %d", c.n, limit)
				}
				if code := s.cmd.ProcessState.ExitCode(); code != 128+9 {
					t.Errorf("mcpcell exited with %d, want %d (the server killed)", code, 128+9)
				}
				if left := inSession(server); len(left) > 0 {
					var desc []string
					for _, pid := range left {
						b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
						desc = append(desc, string(b))
					}
					t.Errorf("%d processes of the cell outlived it: %v", len(left), desc)
				}
				if !strings.Contains(s.stderr.String(), "more than [sandbox] max_processes = 32 ("+path+":3), so mcpcell killed it") {
					t.Errorf("stderr does not say why the cell was killed:\n%s", s.stderr.String())
				}
				found := false
				for _, r := range auditRecords(t, path) {
					found = found || r.Decision == "deny" && r.Rule == "sandbox.max_processes"
				}
				if !found {
					t.Errorf("the audit log has no record of the cap")
				}
			})
		}
	}
}
