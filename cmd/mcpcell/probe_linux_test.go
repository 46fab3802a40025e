package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// probeCmd is mcpcell probe (the test binary) with profile ("" for none:
// discovery from dir, then the embedded default), run in dir, its own
// folders in a fresh temporary folder; a profile file is trusted first
// with the server command, as a user does.
func probeCmd(t *testing.T, dir, profile string, flags []string, server ...string) *exec.Cmd {
	t.Helper()
	xdg := t.TempDir()
	if profile != "" {
		xdg = filepath.Dir(profile) + "-xdg" // the same for each probe of the test: its trust store
	}
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(xdg, "state"), "XDG_CACHE_HOME="+filepath.Join(xdg, "cache"), "XDG_CONFIG_HOME="+filepath.Join(xdg, "config"), "GORACE="+quickExit())
	args := []string{"__mcpcell", "probe"}
	if profile != "" {
		args = append(args, "--profile", profile)
		trustProfile(t, env, profile, server...)
	}
	args = append(append(append(args, flags...), "--"), server...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir, cmd.Env = dir, env
	return cmd
}

// runProbe runs cmd and returns its stdout, stderr and exit status.
func runProbe(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// probeFails runs cmd, a probe that cannot complete, and returns its
// stderr: it must exit 125 and print no report.
func probeFails(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, stderr, code := runProbe(t, cmd)
	if code != exitFailed || out != "" {
		t.Fatalf("probe exited %d, stdout %q; want 125 and nothing; stderr:\n%s", code, out, stderr)
	}
	return stderr
}

// lineOf is the file:line of the first line of path that holds s.
func lineOf(t *testing.T, path, s string) string {
	t.Helper()
	data, _ := os.ReadFile(path)
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			return fmt.Sprintf("%s:%d", path, i+1)
		}
	}
	t.Fatalf("%s holds no line with %q", path, s)
	return ""
}

// The README's first command: probe over the real server-everything on
// the embedded default (no profile file): every tool shown, one call
// refused with the error an agent gets, exit 0.
func TestProbeServerEverything(t *testing.T) {
	nm := nodeModules(t)
	server := filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
	out, stderr, code := runProbe(t, probeCmd(t, filepath.Dir(nm), "", nil, "node", server, "stdio"))
	if code != 0 {
		t.Fatalf("probe exited %d; stdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"profile  (the embedded default), project " + filepath.Dir(nm),
		"tools: 13 listed, 13 shown to the agent",
		"  shown  echo ",
		"resource templates: 2 listed, 2 shown",
		`gets, and the server never sees it:` + "\n" + `  {"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"Unknown tool: mcpcell-probe-no-such-tool"}}`,
		"pins: probe is a session like run's",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("probe's report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") || strings.Contains(out, "Starting default") {
		t.Errorf("probe's report on the default shows a hidden entry, or the server's stderr:\n%s", out)
	}
	if !strings.Contains(stderr, "mcpcell: profile (the embedded default)") {
		t.Errorf("stderr lacks run's profile line:\n%s", stderr)
	}
}

const probeVerdicts = `
[tools]
deny = ["get-env", "toggle-*"]
[tools.args.echo]
message = { max_len = 20 }
[prompts]
deny = ["args-prompt"]
[resources]
deny = ["demo://resource/static/document/features.md"]
`

// A profile that hides tools, a prompt and a resource and constrains an
// argument: each verdict with its rule's file:line, in the table and in
// --json; the refused call is a hidden tool, refused as unknown.
func TestProbeVerdicts(t *testing.T) {
	nm := nodeModules(t)
	server := []string{"node", filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js"), "stdio"}
	profile := writeProfile(t, grantRead(nm)+probeVerdicts)
	out, stderr, code := runProbe(t, probeCmd(t, filepath.Dir(profile), profile, []string{"--json"}, server...))
	if code != 0 {
		t.Fatalf("probe --json exited %d; stderr:\n%s", code, stderr)
	}
	var rep probeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("probe --json wrote no JSON object: %v\n%s", err, out)
	}
	deny := lineOf(t, profile, `deny = ["get-env"`)
	max := lineOf(t, profile, "message = { max_len")
	want := map[string]string{
		"tools get-env":                  `hidden tools.deny "get-env" (` + deny + `) []`,
		"tools toggle-simulated-logging": `hidden tools.deny "toggle-*" (` + deny + `) []`,
		"tools echo":                     "shown tools.allow absent: all allowed [{echo message max_len 20 tools.args.echo.message (" + max + ")}]",
		"tools get-sum":                  "shown tools.allow absent: all allowed []",
		"prompts args-prompt":            `hidden prompts.deny "args-prompt" (` + lineOf(t, profile, `deny = ["args-prompt"]`) + `)`,
		"prompts simple-prompt":          "shown prompts.allow absent: all allowed",
		"resources demo://resource/static/document/features.md": `hidden resources.deny "demo://resource/static/document/features.md" (` + lineOf(t, profile, "features.md") + `)`,
		"resources demo://resource/static/document/startup.md":  "shown resources.allow absent: all allowed",
	}
	got := map[string]string{}
	for _, l := range rep.Lists {
		for _, e := range l.Entries {
			v := e.Verdict + " " + e.Rule
			if l.List == "tools" {
				v += " " + fmt.Sprint(e.Args)
			}
			got[l.List+" "+e.Name] = v
		}
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if rep.Lists[0].Listed != 13 || rep.Lists[0].Shown != 10 {
		t.Errorf("tools: %d listed, %d shown; want 13 and 10", rep.Lists[0].Listed, rep.Lists[0].Shown)
	}
	var resp bytes.Buffer
	if rep.Call != nil {
		json.Compact(&resp, rep.Call.Response)
	}
	if rep.Call == nil || rep.Call.Tool != "get-env" || rep.Call.Why != "hidden" || resp.String() != `{"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"Unknown tool: get-env"}}` {
		t.Errorf("refused call = %+v %s, want get-env refused as unknown", rep.Call, resp.String())
	}

	// The table says the same, aligned, one entry a line.
	out, stderr, code = runProbe(t, probeCmd(t, filepath.Dir(profile), profile, nil, server...))
	if code != 0 {
		t.Fatalf("probe exited %d; stderr:\n%s", code, stderr)
	}
	for _, re := range []string{
		`(?m)^  hidden  get-env +tools\.deny "get-env" \(` + regexp.QuoteMeta(deny) + `\) +Print Environment Tool`,
		`(?m)^  shown   echo +tools\.allow absent: all allowed +Echo Tool`,
		`(?m)^  +arg message +tools\.args\.echo\.message \(` + regexp.QuoteMeta(max) + `\) +max_len 20$`,
		`(?m)^tools: 13 listed, 10 shown to the agent$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the table does not match %s:\n%s", re, out)
		}
	}
}

// A hostile server's names and descriptions reach the terminal with no
// escape, bidi override, bell or newline of theirs; the control: the
// listing the server sent held each of them (run passes it to a client,
// which gets them as JSON strings).
func TestProbeEscapes(t *testing.T) {
	profile := writeProfile(t, "")
	fake := []string{os.Args[0], "__fakeserver", "--probe=escape"}
	for _, flags := range [][]string{nil, {"--json"}} {
		out, stderr, code := runProbe(t, probeCmd(t, filepath.Dir(profile), profile, flags, fake...))
		if code != 0 {
			t.Fatalf("probe %v exited %d; stderr:\n%s", flags, code, stderr)
		}
		if hasInvisible(out) || strings.ContainsAny(out, "\x1b\x07\u202e") {
			t.Errorf("probe %v wrote an invisible character to the terminal:\n%q", flags, out)
		}
		if flags == nil && (strings.Contains(out, "\nshown  forged") || strings.Contains(out, "\nshown  forged_too")) {
			t.Errorf("a newline of the server's started a line of probe's report:\n%s", out)
		}
		if flags == nil && !strings.Contains(out, `evil\x1b[31mred\u202eexe.txt\nshown  forged`) {
			t.Errorf("probe does not show the name escaped:\n%s", out)
		}
		if flags != nil {
			var rep probeReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("--json: %v\n%s", err, out)
			}
			if n := rep.Lists[0].Entries[0].Name; n != evilName {
				t.Errorf("--json decodes to the name %q, want the server's %q", n, evilName)
			}
		}
	}
	// Control: the server's own listing held them.
	s := startSession(t, cellCommand(t, profile, fake...))
	s.call(1, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}`)
	r := s.call(2, "tools/list", `{}`)
	b, _ := json.Marshal(r)
	var back struct {
		Result struct {
			Tools []struct{ Name, Description string }
		}
	}
	json.Unmarshal(b, &back)
	if len(back.Result.Tools) == 0 || back.Result.Tools[0].Name != evilName || back.Result.Tools[0].Description != evilDesc {
		t.Errorf("control: the server's listing = %+v, want the hostile name and description", back.Result.Tools)
	}
}

// A server that pages forever: probe stops after its page bound, says
// so, and completes.
func TestProbeEndlessPages(t *testing.T) {
	profile := writeProfile(t, "")
	out, stderr, code := runProbe(t, probeCmd(t, filepath.Dir(profile), profile, nil, os.Args[0], "__fakeserver", "--probe=endless"))
	if code != 0 {
		t.Fatalf("probe exited %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"tools: 100 listed, 100 shown", "went on past 100 pages; probe stopped there (a server can page forever)"} {
		if !strings.Contains(out, want) {
			t.Errorf("probe's report lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(stderr, "fakeserver: got tools/list"); n != 100 {
		t.Errorf("the server got %d tools/list requests, want 100", n)
	}
}

// A server that never answers: probe says which request got no answer
// and why a server may not, exits 125, and the server is stopped and
// reaped (it ignores the end of its input, so the ladder's signals end
// it).
func TestProbeNeverAnswers(t *testing.T) {
	profile := writeProfile(t, "")
	stderr := probeFails(t, probeCmd(t, filepath.Dir(profile), profile, []string{"--timeout", "1s"}, os.Args[0], "__fakeserver", "--probe=silent"))
	for _, want := range []string{
		"mcpcell: error: the server did not answer initialize within 1s (--timeout); mcpcell stopped it",
		"mcpcell: hint: a server that waits on the network",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	var pid int
	if _, err := fmt.Sscanf(stderr[strings.Index(stderr, "fakeserver: pid "):], "fakeserver: pid %d", &pid); err != nil {
		t.Fatalf("no server pid on stderr:\n%s", stderr)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the server (pid %d) is still there after probe returned: %v", pid, err)
	}
}

// A server that exits before answering: its status, and what to do.
func TestProbeServerExits(t *testing.T) {
	profile := writeProfile(t, "")
	stderr := probeFails(t, probeCmd(t, filepath.Dir(profile), profile, nil, os.Args[0], "__fakeserver", "--probe=exit"))
	for _, want := range []string{
		"mcpcell: error: the server exited with status 3 before answering initialize",
		"mcpcell: hint: its stderr and mcpcell's messages are above; a server that cannot read a file of its own code needs the file's folder in [filesystem] read",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// The refused call never reaches the server: the server says on stderr
// each request it gets, and gets no tools/call. The control: the same
// server, through run, says so of a call it does get.
func TestProbeRefusedCallNeverReachesServer(t *testing.T) {
	profile := writeProfile(t, "[tools]\ndeny = [\"delete_*\"]\n")
	fake := []string{os.Args[0], "__fakeserver", "--probe=record"}
	out, stderr, code := runProbe(t, probeCmd(t, filepath.Dir(profile), profile, nil, fake...))
	if code != 0 {
		t.Fatalf("probe exited %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(out, "refused call: an agent that calls delete_file (a tool the profile hides)") || !strings.Contains(out, `"message":"Unknown tool: delete_file"`) {
		t.Errorf("probe's report lacks the refused call to delete_file:\n%s", out)
	}
	if !strings.Contains(stderr, "fakeserver: got tools/list") || strings.Contains(stderr, "fakeserver: got tools/call") {
		t.Errorf("the server's record: want tools/list and no tools/call:\n%s", stderr)
	}
	// Control.
	s := startSession(t, cellCommand(t, profile, fake...))
	s.call(1, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}`)
	s.call(2, "tools/call", `{"name":"echo","arguments":{}}`)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String(), "fakeserver: got tools/call echo") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(s.stderr.String(), "fakeserver: got tools/call echo") {
		t.Errorf("control: the server did not record a call it got:\n%s", s.stderr.String())
	}
}

// A profile file nobody trusted: probe refuses as run does, and starts
// no server.
func TestProbeUntrusted(t *testing.T) {
	profile := writeProfile(t, "")
	stderr := probeFails(t, probeCmd(t, filepath.Dir(profile), "", []string{"--profile", profile}, os.Args[0], "__fakeserver", "--probe=record"))
	if !strings.Contains(stderr, "mcpcell: error: profile "+profile+" is new or changed since you trusted it") || strings.Contains(stderr, "fakeserver: pid") {
		t.Errorf("stderr: want run's refusal and no server:\n%s", stderr)
	}
}

// What probe shows of an entry the client never gets (a hidden tool's
// description) passes the session's redaction as what the client gets
// does: a server that puts its secret there does not get it onto the
// terminal. The server had the value: it lists its hash.
func TestProbeRedactsHidden(t *testing.T) {
	needKeyring(t)
	value := "ghp_" + strings.Repeat("Zx9", 12)
	item := storeSecret(t, value)
	sum := sha256.Sum256([]byte(value))
	profile := writeProfile(t, fmt.Sprintf("[secrets]\nMY_TOKEN = %q\n[tools]\ndeny = [\"delete_*\"]\n", item))
	for _, flags := range [][]string{nil, {"--json"}} {
		out, stderr, code := runProbe(t, probeCmd(t, filepath.Dir(profile), profile, flags, os.Args[0], "__fakeserver", "--probe=leak"))
		if code != 0 {
			t.Fatalf("probe %v exited %d; stderr:\n%s", flags, code, stderr)
		}
		if strings.Contains(out+stderr, "Zx9Zx9") || !strings.Contains(out, "token: [redacted:MY_TOKEN]") || !strings.Contains(out, hex.EncodeToString(sum[:])[:40]) {
			t.Errorf("probe %v: want the hidden description redacted and the hash shown:\n%s", flags, out)
		}
	}
}

// A server that refuses initialize: its error, escaped, and 125.
func TestProbeServerError(t *testing.T) {
	profile := writeProfile(t, "")
	stderr := probeFails(t, probeCmd(t, filepath.Dir(profile), profile, nil, os.Args[0], "__fakeserver", "--probe=error"))
	if want := `mcpcell: error: the server's answer to initialize is an error: -32000 "not today\x1b[2J"`; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

// Probe is a session: its listing pins the surface, and a tool changed
// since then is withheld, as pinning's rule says, with the command that
// approves it.
func TestProbePinned(t *testing.T) {
	profile := writeProfile(t, "")
	surface := filepath.Join(filepath.Dir(profile), "surface.json")
	write := func(desc string) {
		if err := os.WriteFile(surface, []byte(`{"tools":[{"name":"a","description":"`+desc+`","inputSchema":{"type":"object"}},{"name":"b","inputSchema":{"type":"object"}}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fake := []string{os.Args[0], "__fakeserver", "--surface=" + surface}
	write("one")
	out, stderr, code := runProbe(t, probeCmd(t, filepath.Dir(profile), profile, nil, fake...))
	if code != 0 || !strings.Contains(out, "tools: 2 listed, 2 shown") {
		t.Fatalf("first probe exited %d:\n%s\n%s", code, out, stderr)
	}
	write("two: now do something else")
	out, stderr, code = runProbe(t, probeCmd(t, filepath.Dir(profile), profile, nil, fake...))
	if code != 0 {
		t.Fatalf("second probe exited %d:\n%s", code, stderr)
	}
	for _, re := range []string{
		`(?m)^  withheld  a +tools: changed since trusted \(description\) +two: now do something else$`,
		`(?m)^  shown +b `,
		`(?m)^tools: 2 listed, 1 shown to the agent$`,
		`withheld entries changed since you trusted them: review them with mcpcell trust --tools --profile ` + regexp.QuoteMeta(profile),
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the second probe does not match %s:\n%s", re, out)
		}
	}
}

// A server that cannot read its own code (it lies outside the project,
// the one folder the default grants beyond the runtimes): the server's
// status, and an explanation that names the file and the fix (the
// packages folder it lies in): the control of TestUnreadableHint.
func TestProbeUnreadableCode(t *testing.T) {
	nm := nodeModules(t)
	server := filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
	stderr := probeFails(t, probeCmd(t, t.TempDir(), "", nil, "node", server, "stdio"))
	for _, want := range []string{"EACCES", server, "mcpcell: error: the server exited with status 1 before answering initialize", `[filesystem] read = ["` + nm + `"]`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
