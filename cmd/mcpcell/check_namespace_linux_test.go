package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// hostsProfile has [network] hosts: two rules.
const hostsProfile = "[network]\nhosts = [\"api.example.test:443\", \"web.example.test:80\"]\n"

var (
	namespaceWorks   = regexp.MustCompile(`(?m)^  namespace +works here \(user and network namespace made, lo up, (\d+) sockets bound\)$`)
	namespaceRefused = regexp.MustCompile(`(?m)^  namespace +refused: (.*)$`)
)

// check on a profile with [network] hosts makes the cell's namespace
// here, for real, and says it works, with the count of sockets it bound:
// the plan's (the DNS stub's two per address, one per rule and address,
// the proxy's). Control: a profile without hosts has no namespace line.
func TestCheckTriesNamespace(t *testing.T) {
	for _, c := range []struct {
		name, text string
		hosts      bool
	}{
		{"hosts", hostsProfile, true},
		{"control: no hosts", "[network]\nports = [443]\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			profile := writeProfile(t, c.text)
			check := exec.Command(os.Args[0], "__mcpcell", "check", "--profile", profile)
			check.Env = cellCommand(t, profile).Env
			sockets := plannedSockets(t, profile, check.Env)
			if c.hosts != (sockets > 0) {
				t.Fatalf("the plan has %d sockets", sockets)
			}
			var out, stderr bytes.Buffer
			check.Stdout, check.Stderr = &out, &stderr
			if err := check.Run(); err != nil {
				t.Fatalf("check: %v\n%s\n%s", err, out.String(), stderr.String())
			}
			m := namespaceWorks.FindStringSubmatch(out.String())
			switch {
			case !c.hosts && (m != nil || strings.Contains(out.String(), "  namespace ")):
				t.Errorf("a namespace line for a profile without hosts:\n%s", out.String())
			case c.hosts && m == nil:
				t.Errorf("no works line:\n%s\n%s", out.String(), stderr.String())
			case c.hosts && m[1] != strconv.Itoa(sockets):
				t.Errorf("%s sockets bound, want the plan's %d", m[1], sockets)
			}
		})
	}
}

// Where no namespace can be made (inside a user namespace whose limit of
// user namespaces is 0), check says refused, with the cause in the
// [cell] section and the fix as a hint, and exits 1; run refuses to
// start with the same error. Control: in the same kind of user namespace,
// with its limit left alone, check says it works and exits 0.
func TestCheckNamespaceRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to map every uid in a user namespace of its own")
	}
	profile := writeProfile(t, hostsProfile)
	env := cellCommand(t, profile, os.Args[0], "__fakeserver").Env // trusted, for run
	// inUserNS runs mcpcell with args as root of a user namespace of its
	// own, with its limit of user namespaces at 0 when limited.
	inUserNS := func(limited bool, stdin string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		script := `exec "$@"`
		if limited {
			script = `echo 0 > /proc/sys/user/max_user_namespaces && ` + script
		}
		cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh", os.Args[0], "__mcpcell"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, GidMappingsEnableSetgroups: true,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1<<32 - 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1<<32 - 1}},
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			if cmd.ProcessState == nil {
				t.Fatal(err)
			}
			code = cmd.ProcessState.ExitCode()
		}
		return out.String(), errb.String(), code
	}

	out, stderr, code := inUserNS(true, "", "check", "--profile", profile)
	m := namespaceRefused.FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(m[1], "creating the namespace: ") || !strings.Contains(m[1], "the limit on user or network namespaces is 0 or reached") {
		t.Errorf("check's [cell] section, want the namespace refused by its limit:\n%s\n%s", out, stderr)
	}
	const refusal = "mcpcell: error: mcpcell run would refuse to start: the server's own network namespace (for [network] hosts): creating the namespace: "
	if code != 1 || !strings.Contains(stderr, refusal) || !strings.Contains(stderr, "mcpcell: hint: raise the limits: `sudo sysctl -w user.max_user_namespaces=") {
		t.Errorf("check exited %d, want 1, with the refusal and the fix:\n%s", code, stderr)
	}
	var checkSays string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, refusal) {
			checkSays = strings.TrimPrefix(l, "mcpcell: error: mcpcell run would refuse to start: ")
		}
	}

	_, runErr, runCode := inUserNS(true, `{"jsonrpc":"2.0","id":1,"method":"ping"}`+"\n", "run", "--profile", profile, "--", os.Args[0], "__fakeserver")
	if runCode != exitFailed || checkSays == "" || !strings.Contains(runErr, "mcpcell: error: "+checkSays+"\n") {
		t.Errorf("run exited %d (want %d), not with check's error %q:\n%s", runCode, exitFailed, checkSays, runErr)
	}

	out, stderr, code = inUserNS(false, "", "check", "--profile", profile)
	if code != 0 || !namespaceWorks.MatchString(out) {
		t.Errorf("control: check exited %d, want 0 and the works line:\n%s\n%s", code, out, stderr)
	}
}

// plannedSockets is the count of sockets the cell of profile binds in its
// namespace, as mcpcell with environment env plans it.
func plannedSockets(t *testing.T, profile string, env []string) int {
	t.Helper()
	getenv := func(key string) string {
		v := ""
		for _, kv := range env { // the last wins, as in exec.Cmd.Env
			if k, val, ok := strings.Cut(kv, "="); ok && k == key {
				v = val
			}
		}
		return v
	}
	c := &cli{stdout: io.Discard, stderr: io.Discard, environ: env, getenv: getenv, etc: "/etc"}
	p, _, code := c.loadProfile(profileFlags{profile: profile})
	if code != 0 {
		t.Fatalf("loading %s: exit %d", profile, code)
	}
	plan, err := c.planCell(p, false)
	if err != nil {
		t.Fatal(err)
	}
	if plan.net.Egress == nil {
		return 0
	}
	return len(plan.net.Egress.Listen)
}
