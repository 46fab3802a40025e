package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// escapeCase is one way out of the cell. grant is the profile text that
// allows it ("" when no grant can); without one, the same escape is tried
// unconfined as the control, so that the test can fail.
type escapeCase struct {
	name, what, target string
	grant              string
}

// TestEscapes runs every escape in a confined fake server and asserts it
// fails; then with the matching grants (or unconfined) and asserts it
// works. The table it logs is the one in the closing note.
func TestEscapes(t *testing.T) {
	home, outside := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "id_rsa"), []byte("PRIVATE-KEY"), 0o600)
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("OUTSIDE-SECRET"), 0o644)

	tcp, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer tcp.Close()
	go acceptAll(tcp)
	tcpAddr := tcp.Addr().String()
	udp, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer udp.Close()
	bus := filepath.Join(outside, "bus.sock")
	unixL, err := net.Listen("unix", bus)
	if err != nil {
		t.Fatal(err)
	}
	defer unixL.Close()
	abstract := fmt.Sprintf("@mcpcell-test-%d", os.Getpid())
	abstractL, err := net.Listen("unix", abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer abstractL.Close()
	go acceptAll(unixL)
	go acceptAll(abstractL)
	tcpPort := tcpAddr[strings.LastIndexByte(tcpAddr, ':')+1:]
	dgram := filepath.Join(outside, "log.sock") // a stand-in for /dev/log
	dgramL, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: dgram, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer dgramL.Close()
	listenPort := freePort(t)

	start := func(profile string) *session {
		path := writeProfile(t, profile)
		project := filepath.Dir(path)
		os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(project, "link"))
		cmd := cellCommand(t, path, os.Args[0], "__fakeserver")
		cmd.Env = append(cmd.Env, "MCPCELL_TEST_SECRET_ENV=leaked-value", "AWS_SECRET_ACCESS_KEY=aws-leak")
		s := startSession(t, cmd)
		s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"attacker","version":"1"}}`)
		return s
	}
	confined := start("")
	mcpcellPid := strconv.Itoa(confined.cmd.Process.Pid)
	project := "" // filled per session: the profile's folder

	cases := []escapeCase{
		{"read a file under ~/.ssh", "read", filepath.Join(home, ".ssh", "id_rsa"), fmt.Sprintf("read = [%q]", filepath.Join(home, ".ssh"))},
		{"write outside the grants", "write", filepath.Join(outside, "planted.txt"), fmt.Sprintf("write = [%q]", outside)},
		{"read through a symlink in the project to outside", "read", "{project}/link", fmt.Sprintf("read = [%q]", outside)},
		{"hard-link a file from outside into the project", "hardlink", filepath.Join(outside, "secret.txt") + " {project}/hardlink", fmt.Sprintf("write = [%q]", outside)},
		{"TCP connect to a loopback port not granted", "tcp", tcpAddr, "ports = [" + tcpPort + "]"},
		{"TCP listen on a port not granted", "listen", "127.0.0.1:" + listenPort, "bind = [" + listenPort + "]"},
		{"Multipath TCP connect", "mptcp-connect", tcpAddr, ""},
		{"Multipath TCP listen", "mptcp-listen", "", ""},
		{"UDP send to a loopback listener", "udp", udp.LocalAddr().String(), "udp = true"},
		{"raw socket", "raw", "", ""},
		{"packet socket", "packet", "", ""},
		{"netlink socket", "netlink", "", ""},
		{"UNIX connect to a pathname socket outside (a stand-in for the session bus)", "unix", bus, "unix = true"},
		{"UNIX connect to an abstract socket outside", "unix", abstract, "unix = true"},
		{"TCP Fast Open (sendto MSG_FASTOPEN) to a loopback port not granted", "tcp-fastopen", tcpAddr, ""},
		{"TCP listen() without bind() (an ephemeral port)", "listen-unbound", "", ""},
		{"UNIX datagram to a socket outside through a socketpair", "unix-dgram-pair", dgram, ""},
		{"a set-user-ID file by chmod, for users outside the cell", "setuid-chmod", "{project}/suid", ""},
		{"a set-user-ID file by open(O_CREAT, 04755)", "setuid-create", "{project}/suid2", ""},
		{"io_uring_setup", "io_uring", "", ""},
		{"kill the mcpcell process", "kill", "{mcpcell}", ""},
		{"read /proc/<mcpcell pid>/environ", "environ", "{mcpcell}", ""},
		{"see a variable of mcpcell's environment", "env", "MCPCELL_TEST_SECRET_ENV", `pass = ["MCPCELL_TEST_SECRET_ENV"]`},
		{"see AWS_SECRET_ACCESS_KEY from mcpcell's environment", "env", "AWS_SECRET_ACCESS_KEY", `pass = ["AWS_SECRET_ACCESS_KEY"]`},
		{"ptrace the mcpcell process", "ptrace", "{mcpcell}", ""},
		{"kernel keyring (keyctl)", "keyctl", "", ""},
	}
	fill := func(s, project, pid string) string {
		return strings.NewReplacer("{project}", project, "{mcpcell}", pid).Replace(s)
	}
	try := func(s *session, id int, c escapeCase, project, pid string) string {
		args, _ := json.Marshal(map[string]string{"what": c.what, "target": fill(c.target, project, pid)})
		return resultText(s.call(id, "tools/call", `{"name":"escape","arguments":`+string(args)+`}`))
	}

	// One session holds every grant at once.
	var fs, net_, env []string
	for _, c := range cases {
		switch {
		case strings.HasPrefix(c.grant, "read"), strings.HasPrefix(c.grant, "write"):
			fs = append(fs, c.grant)
		case strings.HasPrefix(c.grant, "pass"):
			env = append(env, c.grant)
		case c.grant != "":
			net_ = append(net_, c.grant)
		}
	}
	grantText := "[filesystem]\n" + mergeTOML(fs) + "[network]\n" + strings.Join(dedupe(net_), "\n") + "\n[env]\n" + mergeTOML(env)
	granted := start(grantText)
	grantedPid := strconv.Itoa(granted.cmd.Process.Pid)

	// The control for escapes no grant allows: a sacrificial process to
	// ptrace, signal and read, since the test must not trace itself.
	victim := exec.Command("sleep", "60")
	victim.Env = append(os.Environ(), "MCPCELL_TEST_SECRET_ENV=leaked-value")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer victim.Process.Kill()
	victimPid := strconv.Itoa(victim.Process.Pid)

	project = filepath.Dir(confined.cmd.Args[3])
	grantedProject := filepath.Dir(granted.cmd.Args[3])
	var table []string
	table = append(table, "| escape | in the cell | with the grant, or unconfined |", "|---|---|---|")
	for i, c := range cases {
		got := try(confined, 100+i, c, project, mcpcellPid)
		var control, how string
		switch {
		case c.grant != "":
			control, how = try(granted, 100+i, c, grantedProject, grantedPid), "granted: "+c.grant
		case (c.what == "raw" || c.what == "packet") && os.Geteuid() != 0:
			// Only root (CAP_NET_RAW) opens these outside a cell too.
			control, how = "ok: not tried", "skipped: needs root"
		default:
			control, how = escape(c.what, fill(c.target, t.TempDir(), victimPid)), "unconfined"
		}
		if !strings.HasPrefix(got, "denied") {
			t.Errorf("%s: in the cell it worked: %s", c.name, got)
		}
		if !strings.HasPrefix(control, "ok") {
			t.Errorf("%s: %s it failed too, so the test proves nothing: %s", c.name, how, control)
		}
		table = append(table, fmt.Sprintf("| %s | %s | %s (%s) |", c.name, got, control, how))
	}
	t.Logf("escapes:\n%s", strings.Join(table, "\n"))
	_ = time.Now
}

// acceptAll accepts and closes connections until l is closed.
func acceptAll(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// freePort finds a loopback TCP port nobody listens on.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := l.Addr().String()
	return a[strings.LastIndexByte(a, ':')+1:]
}

// mergeTOML joins `key = [..]` lines with the same key into one list.
func mergeTOML(lines []string) string {
	byKey := map[string][]string{}
	var order []string
	for _, l := range lines {
		k, v, _ := strings.Cut(l, " = ")
		if byKey[k] == nil {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], strings.Trim(v, "[]"))
	}
	var out strings.Builder
	for _, k := range order {
		fmt.Fprintf(&out, "%s = [%s]\n", k, strings.Join(dedupe(byKey[k]), ", "))
	}
	return out.String()
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// A best-effort cell on an older kernel (pretended) really is weaker, and
// says so: the TCP connect the full cell refuses goes through.
func TestBestEffortIsWeaker(t *testing.T) {
	l, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer l.Close()
	go acceptAll(l)
	for _, c := range []struct {
		pretend string
		want    string
	}{{"", "denied"}, {"3", "ok"}} {
		path := writeProfile(t, "[sandbox]\nbest_effort = true\n")
		cmd := cellCommand(t, path, os.Args[0], "__fakeserver")
		cmd.Env = append(cmd.Env, "MCPCELL_PRETEND_LANDLOCK_ABI="+c.pretend)
		s := startSession(t, cmd)
		s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
		got := resultText(s.call(1, "tools/call", `{"name":"escape","arguments":{"what":"tcp","target":"`+l.Addr().String()+`"}}`))
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("ABI %q, best effort: TCP connect %s, want %s", c.pretend, got, c.want)
		}
		const warning = "best_effort: this cell does not enforce: the default of no TCP"
		if c.pretend != "" {
			waitFor(t, s, warning)
		} else if strings.Contains(s.stderr.String(), warning) {
			t.Errorf("a full cell warned: %s", s.stderr.String())
		}
	}
}

// The server inherits no file of mcpcell's or the helper's but 0, 1, 2:
// not the spec pipe, not the status pipe.
func TestNoInheritedFiles(t *testing.T) {
	s := fakeSession(t, "[filesystem]\nread = [\"/proc\"]\n", "2025-11-25")
	got := resultText(s.call(1, "tools/call", `{"name":"escape","arguments":{"what":"fds"}}`))
	if got != "ok: " {
		t.Errorf("the server holds pipes or sockets beyond stdio: %q", got)
	}
}
