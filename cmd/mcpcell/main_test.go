package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/syncbuf"
	"github.com/mcpcell/mcpcell/internal/testhome"
	"github.com/rogpeppe/go-internal/testscript"
)

// The test binary is also mcpcell (argv[1] "__mcpcell") and the fake
// server ("__fakeserver"), so tests run the real CLI as a real process.
// The tests, and the processes they start, never touch the real HOME:
// testhome points it into a temporary folder before the first test
// (and not when the binary runs as one of the commands above).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__mcpcell":
			os.Exit(runUnhardened(os.Args[2:], os.Stdin, os.Stdout, os.Stderr, testSeams()))
		case "__fakeserver":
			exitNow(fakeServer(os.Args[2:]))
		case "__sdkserver":
			os.Exit(sdkServer())
		case "__orphan":
			orphan(os.Args[2:])
		case "__hopper":
			runHopper(os.Args[2:])
		}
	}
	testscript.Main(testhome.M(m), map[string]func(){
		"mcpcell":    func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"fakeserver": func() { exitNow(fakeServer(os.Args[1:])) },
	})
}

// required reports whether absent components fail tests instead of
// skipping them (CI sets MCPCELL_REQUIRE_ALL=1).
func required() bool { return os.Getenv("MCPCELL_REQUIRE_ALL") == "1" }

// need skips (or, in CI, fails) a test that needs an absent component.
func need(t *testing.T, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if required() {
		t.Fatalf("%s is missing, and MCPCELL_REQUIRE_ALL=1 makes that a failure", what)
	}
	t.Skipf("skipped: %s is missing (.ci/test installs it)", what)
}

// nodeModules is where .ci/test installs the npm test servers and clients.
func nodeModules(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../testdata/node/node_modules")
	_, err := os.Stat(filepath.Join(dir, "@modelcontextprotocol/server-everything/dist/index.js"))
	need(t, "testdata/node/node_modules (npm ci --prefix testdata/node)", err == nil)
	_, err = exec.LookPath("node")
	need(t, "node on the PATH", err == nil)
	return dir
}

// cellCommand is the command line that starts mcpcell (the test binary).
func cellCommand(t *testing.T, profile string, server ...string) *exec.Cmd {
	args := append([]string{"__mcpcell", "run", "--profile", profile, "--"}, server...)
	cmd := exec.Command(os.Args[0], args...)
	// mcpcell's own folders lie beside the project, never in it: no write
	// grant may hold them. (The test's temporary root removes them.)
	xdg := filepath.Dir(profile) + "-xdg"
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(xdg, "state"), "XDG_CACHE_HOME="+filepath.Join(xdg, "cache"), "GORACE="+quickExit())
	trustProfile(t, cmd.Env, profile, server...)
	return cmd
}

// trustProfile trusts a profile file and the server command for it
// through the real CLI, with mcpcell's environment env, as a user does
// before a first run.
func trustProfile(t *testing.T, env []string, profile string, server ...string) {
	t.Helper()
	if !filepath.IsAbs(profile) {
		return // an embedded preset
	}
	args := append([]string{"__mcpcell", "trust", "--yes", "--profile", profile}, server...)
	if len(server) > 0 {
		args = append([]string{"__mcpcell", "trust", "--yes", "--profile", profile, "--"}, server...)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mcpcell trust %s: %v\n%s", profile, err, out)
	}
}

// quickExit is a GORACE that keeps a race-enabled mcpcell from sleeping a
// second at exit, the race detector's default, which tests of the
// shutdown ladder's timing would see (see also exitNow).
func quickExit() string { return strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0") }

// writeProfile writes a profile into a fresh project folder. It includes
// the embedded default and a grant to run this test binary, which is the
// fake server.
func writeProfile(t *testing.T, text string) string {
	t.Helper()
	return writeProfileIn(t, t.TempDir(), text)
}

// writeProfileIn is writeProfile into dir.
func writeProfileIn(t *testing.T, dir, text string) string {
	t.Helper()
	bin, _ := filepath.EvalSymlinks(os.Args[0])
	testbin := fmt.Sprintf("[filesystem]\nread = [%q]\nexec = [%q]\n", bin, bin)
	if err := os.WriteFile(filepath.Join(dir, "testbin.toml"), []byte(testbin), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ".mcpcell.toml")
	if err := os.WriteFile(path, []byte("include = [\"default\", \"testbin.toml\"]\n"+text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// session is a raw line client of `mcpcell run`.
type session struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan []byte
	stderr *syncbuf.Buffer
	mu     sync.Mutex
	frames [][]byte // every frame read so far, in order
}

func startSession(t *testing.T, cmd *exec.Cmd) *session {
	t.Helper()
	return startSessionIn(t, cmd, nil)
}

// startSessionIn is startSession with the client's end of mcpcell's input
// made by the caller (cmd.Stdin is mcpcell's end); nil makes a pipe.
func startSessionIn(t *testing.T, cmd *exec.Cmd, in io.WriteCloser) *session {
	t.Helper()
	s := &session{t: t, cmd: cmd, in: in, lines: make(chan []byte, 10000), stderr: &syncbuf.Buffer{}}
	cmd.Stderr = s.stderr
	var err error
	if s.in == nil {
		if s.in, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReaderSize(out, 1<<20)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				s.lines <- bytes.TrimRight(line, "\n")
			}
			if err != nil {
				close(s.lines)
				return
			}
		}
	}()
	t.Cleanup(func() {
		s.in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("mcpcell stderr:\n%s", s.stderr.String())
		}
	})
	return s
}

func (s *session) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatalf("writing to mcpcell: %v", err)
	}
}

// next returns the next frame from mcpcell, failing after a timeout.
func (s *session) next() []byte {
	s.t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			s.t.Fatalf("mcpcell closed its output; stderr:\n%s", s.stderr.String())
		}
		s.mu.Lock()
		s.frames = append(s.frames, l)
		s.mu.Unlock()
		return l
	case <-time.After(20 * time.Second):
		s.t.Fatalf("no frame from mcpcell in 20s; stderr:\n%s", s.stderr.String())
	}
	return nil
}

// reply reads frames until the response with id (a JSON literal) and
// returns it decoded; frames before it are kept in s.frames.
func (s *session) reply(id string) map[string]any {
	s.t.Helper()
	for {
		f := s.next()
		var m map[string]any
		if err := json.Unmarshal(f, &m); err != nil {
			s.t.Fatalf("mcpcell wrote a non-JSON frame %q", f)
		}
		if _, isReq := m["method"]; isReq {
			continue
		}
		if b, _ := json.Marshal(m["id"]); string(b) == id {
			return m
		}
	}
}

// call sends a request and waits for its response.
func (s *session) call(id int, method, params string) map[string]any {
	s.t.Helper()
	s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params))
	return s.reply(fmt.Sprint(id))
}

func errorOf(m map[string]any) (code int, msg string) {
	e, ok := m["error"].(map[string]any)
	if !ok {
		return 0, ""
	}
	c, _ := e["code"].(float64)
	s, _ := e["message"].(string)
	return int(c), s
}

func resultText(m map[string]any) string {
	r, _ := m["result"].(map[string]any)
	content, _ := r["content"].([]any)
	var out []string
	for _, c := range content {
		if c, ok := c.(map[string]any); ok {
			s, _ := c["text"].(string)
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n")
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			// Beside $WORK, the project of most scripts: no write grant
			// may hold mcpcell's own folders.
			e.Setenv("XDG_STATE_HOME", e.WorkDir+"-xdg/state")
			e.Setenv("XDG_CACHE_HOME", e.WorkDir+"-xdg/cache")
			e.Setenv("GORACE", quickExit())
			// Scripts include testbin.toml to run the fake server (this
			// test binary) in a cell.
			bin, _ := filepath.EvalSymlinks(os.Args[0])
			bindir := filepath.SplitList(e.Getenv("PATH"))[0] // testscript's commands
			return os.WriteFile(filepath.Join(e.WorkDir, "testbin.toml"), []byte(fmt.Sprintf("include = [\"default\"]\n[filesystem]\nread = [%q, %q]\nexec = [%q, %q]\n", bin, bindir, bin, bindir)), 0o600)
		},
	})
}
