package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/profiles"
)

// F1: a server that answers initialize, then stops reading its input and
// floods pings (deaf.js) does not hold probe past --timeout: probe ends
// in the timeout and run's ladder, exit 125, and the server is gone.
// Before the fix probe ran until a signal (its pipes were io.Pipes,
// whose close run never saw, and it waited on run without a bound).
// The control: plain run with a real client in the same state (it
// answered the pings until its writes blocked) ends when that client
// closes its input.
func TestProbeDeafServer(t *testing.T) {
	needNode(t)
	profile := writeProfile(t, "")
	dir := filepath.Dir(profile)
	deaf := attackScript(t, dir, "deaf.js")
	cmd := probeCmd(t, dir, profile, []string{"--timeout", "2s"}, "node", deaf)
	var out, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A bound far above 2s and the ladder: a probe that does not hold its
	// timeout runs on until a signal.
	if code := waitBounded(t, cmd, 30*time.Second); code != exitFailed || out.String() != "" {
		t.Errorf("probe exited %d with stdout %q, want 125 and none", code, out.String())
	}
	if !strings.Contains(stderr.String(), "mcpcell: error: the server did not answer tools/list within 2s (--timeout); mcpcell stopped it") {
		t.Errorf("stderr lacks the timeout's error:\n%s", stderr.String())
	}
	t.Logf("probe stderr:\n%s", stderr.String())
	pidGone(t, stderr.String(), "deaf: pid ")

	// Control.
	flood := attackScript(t, dir, "flood.js")
	run := cellCommand(t, profile, "node", flood)
	run.Stderr = &strings.Builder{}
	in, err := run.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := run.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	answers := make(chan string, 100000)
	go func() {
		for a := range answers {
			if _, err := io.WriteString(in, a); err != nil {
				return // closed below
			}
		}
	}()
	io.WriteString(in, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`+"\n")
	// Answer the pings for a while, as a client does, until its writes
	// to run block (or 3000 are answered), reading all run sends.
	lines := make(chan []byte, 1024)
	go func() {
		defer close(lines)
		r := bufio.NewReader(outPipe)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	stopAnswering := time.After(3 * time.Second)
answering:
	for n := 0; n < 3000; n++ {
		var line []byte
		select {
		case line = <-lines:
		case <-stopAnswering:
			break answering
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(line, &m) == nil && m.Method != "" {
			select {
			case answers <- `{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{}}` + "\n":
			default:
			}
		}
	}
	go func() {
		for range lines {
		}
	}()
	in.Close() // the client's disconnect, its writes to run still blocked
	waitBounded(t, run, 30*time.Second)
	pidGone(t, run.Stderr.(*strings.Builder).String(), "flood: pid ")
}

// F5: a live server that answers tools/list with an error worded as
// mcpcell's answer for a server that is gone ("mcpcell: the server
// exited …", forge.json) gets its error reported as its own, and the
// probe completes: who answered is taken from the session, not the
// text. The control: a server that does exit before answering tools/list
// is reported as gone, with its status.
func TestProbeForgedGone(t *testing.T) {
	needNode(t)
	profile := writeProfile(t, "")
	dir := filepath.Dir(profile)
	raw := attackScript(t, dir, "raw.js")
	forge := attackScript(t, dir, "forge.json")
	out, stderr, code := runProbe(t, probeCmd(t, dir, profile, nil, "node", raw, forge))
	if code != 0 {
		t.Fatalf("probe exited %d, want 0 (the server answered); stderr:\n%s", code, stderr)
	}
	if want := "tools: the list failed: the server's error -32603: mcpcell: the server exited (status 0); it may not read /x"; !strings.Contains(out, want) {
		t.Errorf("probe's report lacks %q:\n%s", want, out)
	}
	if strings.Contains(stderr, "mcpcell: error:") {
		t.Errorf("probe reported an error for a server that answered:\n%s", stderr)
	}
	// Control.
	stderr = probeFails(t, probeCmd(t, dir, profile, nil, os.Args[0], "__fakeserver", "--probe=exitlist"))
	if want := "mcpcell: error: the server exited with status 3 before answering tools/list"; !strings.Contains(stderr, want) {
		t.Errorf("control: stderr lacks %q:\n%s", want, stderr)
	}
}

// F3: probe's rule column, header and review command print through
// printable: a pin verdict that quotes a member name the server chose
// (Hangul fillers, variation selectors) and a project and command
// argument holding an escape reach the terminal escaped.
func TestProbePrintsEscaped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p\x1b[31mred")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	profile := writeProfileIn(t, dir, "")
	surface := filepath.Join(dir, "surface.json")
	write := func(extra string) {
		if err := os.WriteFile(surface, []byte(`{"tools":[{"name":"t","inputSchema":{"type":"object"}`+extra+`}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fake := []string{os.Args[0], "__fakeserver", "--surface=" + surface, "--x=\x1b[2J"}
	write("")
	if out, stderr, code := runProbe(t, probeCmd(t, dir, profile, nil, fake...)); code != 0 {
		t.Fatalf("first probe exited %d:\n%s\n%s", code, out, stderr)
	}
	write(`,"x\u3164\u3164\ufe0f tools.allow absent: all allowed":1`)
	out, stderr, code := runProbe(t, probeCmd(t, dir, profile, nil, fake...))
	if code != 0 {
		t.Fatalf("second probe exited %d:\n%s", code, stderr)
	}
	if hasInvisible(strings.ReplaceAll(out, "\n", "")) {
		t.Errorf("probe wrote an invisible character:\n%q", out)
	}
	for _, want := range []string{`x\u3164\u3164\ufe0f tools.allow absent`, `p\x1b[31mred`, `--x=\x1b[2J`} {
		if !strings.Contains(out, want) {
			t.Errorf("probe's report lacks %q:\n%s", want, out)
		}
	}
}

// F6, F7: probe initializes as --client, so that a profile with [client]
// names can be probed as the client it allows; without it, mcpcell's
// refusal (not the server's) with a hint naming --client. The report
// shows the server's instructions, escaped.
func TestProbeClient(t *testing.T) {
	profile := writeProfile(t, "[client]\nnames = [\"claude-code\"]\n")
	fake := []string{os.Args[0], "__fakeserver", "--probe=record"}
	stderr := probeFails(t, probeCmd(t, filepath.Dir(profile), profile, nil, fake...))
	for _, want := range []string{`mcpcell: error: mcpcell's answer to initialize is an error`, `mcpcell: hint: the profile allows only the clients named in [client] names (claude-code); probe as one of them with --client NAME`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	out, stderr, code := runProbe(t, probeCmd(t, filepath.Dir(profile), profile, []string{"--client", "claude-code"}, fake...))
	if code != 0 || !strings.Contains(out, `probed as client "claude-code"`) || !strings.Contains(out, "tools: 2 listed, 2 shown") {
		t.Fatalf("probe --client claude-code exited %d:\n%s\n%s", code, out, stderr)
	}
	out, stderr, code = runProbe(t, probeCmd(t, filepath.Dir(profile), writeProfile(t, ""), nil, os.Args[0], "__fakeserver", "--probe=escape"))
	if code != 0 || !strings.Contains(out, `instructions to the agent: first\x1b]0;owned\a line\u202e\nshown  forged_too`) {
		t.Errorf("the report lacks the instructions, escaped (exit %d):\n%s\n%s", code, out, stderr)
	}
}

// F8: an entry the agent is listed but every call to which the policy
// refuses (pinning past its bound) is uncallable, not shown.
func TestProbeVerdictOf(t *testing.T) {
	cases := []struct {
		v             profiles.EntryVerdict
		err           error
		shown         bool
		verdict, rule string
	}{
		{profiles.EntryVerdict{Shown: true, Rule: "tools.allow absent"}, nil, true, "shown", "tools.allow absent"},
		{profiles.EntryVerdict{Pinned: true, Rule: "tools: changed since trusted (the server changed more than 10000)"}, nil, true, "uncallable", "tools: changed since trusted (the server changed more than 10000)"},
		{profiles.EntryVerdict{Pinned: true, Rule: "tools: changed since trusted (description)"}, nil, false, "withheld", "tools: changed since trusted (description)"},
		{profiles.EntryVerdict{Rule: "tools.deny (f:3)"}, nil, false, "hidden", "tools.deny (f:3)"},
		{profiles.EntryVerdict{}, errors.New("no list"), true, "hidden", "no list"},
	}
	for _, c := range cases {
		if v, r := verdictOf(c.v, c.err, c.shown); v != c.verdict || r != c.rule {
			t.Errorf("verdictOf(%+v, %v, %v) = %q, %q, want %q, %q", c.v, c.err, c.shown, v, r, c.verdict, c.rule)
		}
	}
}

// F8, through the real CLI: a first listing of 20001 tools overflows
// pinning's bound; the 10000 the agent is listed are uncallable (every
// call to them is refused), not shown.
func TestProbeOverPinBound(t *testing.T) {
	needNode(t)
	profile := writeProfile(t, "")
	big := attackScript(t, filepath.Dir(profile), "big.js")
	out, stderr, code := runProbe(t, probeCmd(t, filepath.Dir(profile), profile, nil, "node", big, "20001"))
	if code != 0 {
		t.Fatalf("probe exited %d; stderr:\n%s", code, stderr)
	}
	for _, re := range []string{`(?m)^tools: 10000 listed, 0 shown to the agent$`, `(?m)^  uncallable  0 +tools: changed since trusted \(the server changed more than 10000\)`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("probe's report does not match %s:\n%.2000s", re, out)
		}
	}
}
