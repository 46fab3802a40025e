// Command testsuite runs `go test -json` and tells a person what
// happened: a line per package as it finishes (and a line while a long
// package is still running), then the output of every failed or skipped
// test, then one line:
//
//	tests: 1234 passed, 0 failed, 0 skipped (17 packages, 212 s)
//
// It exits 0 only when nothing failed and nothing was skipped. Tests
// and subtests are counted alike; a package that fails to build, or
// fails outside its tests, counts as one failed test with its output.
// Run without root, a test that skips because it needs root (its skip
// message says "needs root" or "only root") is not a skip here but is
// listed, and counted on the last line, as not run.
//
// With -canary DIR, the test binaries (not the go command, which keeps
// its own HOME for its telemetry) run with HOME=DIR and no XDG folders
// set, and every path under DIR that the run created, changed or
// removed is a failure: tests must never touch the real HOME.
//
//	go run ./internal/testsuite -canary "$(mktemp -d)" -run TestX ./profiles
//
// .ci/test runs it; its arguments, after -canary, are go test's (when
// none names a package, ./... is tested).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcpcell/mcpcell/internal/testhome"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Geteuid() == 0)) }

// event is one line of go test -json (test2json's TestEvent, and the
// build events of go test -json).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	Elapsed     float64
	ImportPath  string
	FailedBuild string
}

// line is a line of output and the test it belongs to ("" for the
// package).
type line struct{ test, text string }

type pkgState struct {
	name                     string
	lines                    []line
	results                  map[string]string // test → pass, fail, skip
	order                    []string          // tests in the order they ended
	passed, failed, skipped  int
	notRun                   int
	done, failedOutsideTests bool
	buildOutput              string
	elapsed                  float64
}

// suite is what the events said so far.
type suite struct {
	mu       sync.Mutex
	root     bool
	pkgs     map[string]*pkgState
	order    []string // packages as they finished
	builds   map[string]*strings.Builder
	running  map[string]int // package → tests ended so far, while running
	out      io.Writer
	lastSaid time.Time
}

func run(args []string, stdout, stderr io.Writer, root bool) int {
	canaryDir, heartbeat, goArgs, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "testsuite: error: %v\nusage: testsuite [-canary DIR] [-heartbeat DURATION] [--] [go test flags] [packages]\n", err)
		return 2
	}
	if !namesPackage(goArgs) {
		goArgs = append(goArgs, "./...")
	}
	start := time.Now()
	var canary testhome.Canary
	cmdArgs := []string{"test", "-json"}
	env := os.Environ()
	if canaryDir != "" {
		if canary, err = testhome.TakeCanary(canaryDir); err != nil {
			fmt.Fprintf(stderr, "testsuite: error: %v\n", err)
			return 1
		}
		// The go command keeps its HOME (its telemetry writes there);
		// the test binaries get the canary, with no XDG folder that
		// would send them elsewhere.
		unset := []string{}
		for _, v := range []string{"XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "npm_config_cache", testhome.Marker} {
			unset = append(unset, "-u", v)
		}
		cmdArgs = append(cmdArgs, "-exec", shellQuote(append(append([]string{"env"}, unset...), "HOME="+canaryDir)))
	}
	cmd := exec.Command("go", append(cmdArgs, goArgs...)...)
	cmd.Env = env
	var goStderr strings.Builder
	cmd.Stderr = io.MultiWriter(stderr, &goStderr)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(stderr, "testsuite: error: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "go %s\n", strings.Join(cmd.Args[1:], " "))
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "testsuite: error: starting go test: %v\n", err)
		return 1
	}
	s := &suite{root: root, pkgs: map[string]*pkgState{}, builds: map[string]*strings.Builder{}, running: map[string]int{}, out: stdout, lastSaid: time.Now()}
	stop := make(chan struct{})
	go s.beat(heartbeat, start, stop)
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var stray []string
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			stray = append(stray, sc.Text())
			fmt.Fprintln(stderr, sc.Text())
			continue
		}
		s.add(e)
	}
	waitErr := cmd.Wait()
	close(stop)
	return s.report(stdout, start, waitErr, goStderr.String(), stray, canary, canaryDir != "")
}

// parseArgs takes testsuite's own flags from the front of args; the
// rest, after an optional --, are go test's.
func parseArgs(args []string) (canary string, heartbeat time.Duration, rest []string, err error) {
	heartbeat = 30 * time.Second
	for len(args) > 0 {
		name, value, hasValue := strings.Cut(args[0], "=")
		if name != "-canary" && name != "-heartbeat" {
			if name == "--" {
				args = args[1:]
			}
			break
		}
		if !hasValue {
			if len(args) < 2 {
				return "", 0, nil, fmt.Errorf("%s needs a value", name)
			}
			value, args = args[1], args[1:]
		}
		args = args[1:]
		if name == "-canary" {
			canary = value
		} else if heartbeat, err = time.ParseDuration(value); err != nil {
			return "", 0, nil, fmt.Errorf("-heartbeat: %w", err)
		}
	}
	return canary, heartbeat, args, nil
}

// namesPackage reports whether go test's arguments name a package
// (a relative path or one of this module's).
func namesPackage(args []string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, "./") || strings.HasPrefix(a, "../") || a == "." || strings.HasPrefix(a, "github.com/") || a == "all" {
			return true
		}
	}
	return false
}

// shellQuote joins words for go test -exec, which splits its value as
// the go command splits quoted fields.
func shellQuote(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + w + "'"
	}
	return strings.Join(q, " ")
}

func (s *suite) pkg(name string) *pkgState {
	p := s.pkgs[name]
	if p == nil {
		p = &pkgState{name: name, results: map[string]string{}}
		s.pkgs[name] = p
	}
	return p
}

func (s *suite) add(e event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Action {
	case "build-output":
		b := s.builds[e.ImportPath]
		if b == nil {
			b = &strings.Builder{}
			s.builds[e.ImportPath] = b
		}
		b.WriteString(e.Output)
		return
	case "build-fail":
		return
	}
	p := s.pkg(e.Package)
	switch e.Action {
	case "start":
		s.running[e.Package] = 0
	case "output":
		p.lines = append(p.lines, line{e.Test, e.Output})
	case "pass", "fail", "skip":
		if e.Test == "" {
			s.finish(p, e)
			return
		}
		s.running[e.Package]++
		p.results[e.Test] = e.Action
		p.order = append(p.order, e.Test)
		switch {
		case e.Action == "pass":
			p.passed++
		case e.Action == "fail":
			p.failed++
		case !s.root && needsRoot(p, e.Test):
			p.results[e.Test] = "root"
			p.notRun++
		default:
			p.skipped++
		}
	}
}

// needsRoot reports whether a skipped test said it needs root: its
// output says "needs root" or "only root".
func needsRoot(p *pkgState, test string) bool {
	for _, l := range p.lines {
		if l.test == test && (strings.Contains(l.text, "needs root") || strings.Contains(l.text, "only root")) {
			return true
		}
	}
	return false
}

// finish records a package's end and says so.
func (s *suite) finish(p *pkgState, e event) {
	delete(s.running, e.Package)
	p.done = true
	p.elapsed = e.Elapsed
	if e.FailedBuild != "" {
		if b := s.builds[e.FailedBuild]; b != nil {
			p.buildOutput = b.String()
		}
		p.failedOutsideTests = true
	} else if e.Action == "fail" && p.failed == 0 {
		p.failedOutsideTests = true // TestMain, a timeout, a crash
	}
	if p.failedOutsideTests {
		p.failed++
	}
	s.order = append(s.order, p.name)
	status := "ok  "
	switch {
	case p.failed > 0:
		status = "FAIL"
	case p.skipped > 0:
		status = "SKIP"
	case e.Action == "skip":
		status = "?   " // no test files
	}
	counts := p.counts()
	if e.FailedBuild != "" {
		counts = "build failed"
	} else if e.Action == "skip" {
		counts = "no tests"
	}
	fmt.Fprintf(s.out, "%s %-50s %-40s %6.1fs\n", status, p.name, counts, p.elapsed)
	s.lastSaid = time.Now()
}

func (p *pkgState) counts() string {
	c := fmt.Sprintf("%d passed, %d failed, %d skipped", p.passed, p.failed, p.skipped)
	if p.notRun > 0 {
		c += fmt.Sprintf(", %d need root", p.notRun)
	}
	return c
}

// beat says what still runs when no package has finished for a while.
func (s *suite) beat(every time.Duration, start time.Time, stop chan struct{}) {
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if time.Since(s.lastSaid) >= every && len(s.running) > 0 {
			var names []string
			for name, n := range s.running {
				names = append(names, fmt.Sprintf("%s (%d tests done)", name, n))
			}
			sort.Strings(names)
			fmt.Fprintf(s.out, "…    %.0f s, still running: %s\n", time.Since(start).Seconds(), strings.Join(names, ", "))
			s.lastSaid = time.Now()
		}
		s.mu.Unlock()
	}
}

// report prints the failures, the skips and the last line, and returns
// the exit status.
func (s *suite) report(w io.Writer, start time.Time, waitErr error, goStderr string, stray []string, canary testhome.Canary, checkCanary bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var passed, failed, skipped, notRun int
	var rootOnly []string
	for _, name := range s.order {
		p := s.pkgs[name]
		passed += p.passed
		failed += p.failed
		skipped += p.skipped
		notRun += p.notRun
		if p.failedOutsideTests {
			fmt.Fprintf(w, "\n=== FAILED: package %s, outside its tests\n", name)
			io.WriteString(w, p.buildOutput)
			p.print(w, "")
		}
		for _, test := range p.order {
			switch p.results[test] {
			case "fail":
				if !strings.Contains(test, "/") {
					fmt.Fprintf(w, "\n=== FAILED: %s (%s)\n", test, name)
					p.print(w, test)
				}
			case "skip":
				fmt.Fprintf(w, "\n=== SKIPPED: %s (%s)\n", test, name)
				p.print(w, test)
			case "root":
				rootOnly = append(rootOnly, fmt.Sprintf("%s (%s)", test, name))
			}
		}
	}
	// Packages that started and never ended: go test was killed, or
	// could not run them.
	for name, p := range s.pkgs {
		if !p.done {
			failed++
			fmt.Fprintf(w, "\n=== FAILED: package %s did not finish\n", name)
			p.print(w, "")
		}
	}
	var problems []string
	if waitErr != nil && failed == 0 {
		failed++
		fmt.Fprintf(w, "\n=== FAILED: go test: %v\n%s%s\n", waitErr, goStderr, strings.Join(stray, "\n"))
	}
	if len(rootOnly) > 0 {
		fmt.Fprintf(w, "\n=== NOT RUN, these need root and this run is not root (CI runs them as root):\n")
		for _, t := range rootOnly {
			fmt.Fprintf(w, "    %s\n", t)
		}
	}
	if checkCanary {
		changes, err := canary.Changes()
		if err != nil {
			changes = []string{err.Error()}
		}
		if len(changes) > 0 {
			fmt.Fprintf(w, "\n=== FAILED: the tests touched the HOME they were given (a test binary's TestMain must call testhome.Run):\n")
			for _, c := range changes {
				fmt.Fprintf(w, "    %s\n", c)
			}
			problems = append(problems, fmt.Sprintf("HOME touched (%d paths)", len(changes)))
		}
	}
	last := fmt.Sprintf("tests: %d passed, %d failed, %d skipped", passed, failed, skipped)
	if notRun > 0 {
		last += fmt.Sprintf(", %d not run (need root)", notRun)
	}
	for _, p := range problems {
		last += ", " + p
	}
	fmt.Fprintf(w, "\n%s (%d packages, %.0f s)\n", last, len(s.pkgs), time.Since(start).Seconds())
	if failed > 0 || skipped > 0 || len(problems) > 0 {
		return 1
	}
	return 0
}

// print writes the lines a test printed, its subtests' too ("" for the
// package's own lines).
func (p *pkgState) print(w io.Writer, test string) {
	for _, l := range p.lines {
		if l.test == test || (test != "" && strings.HasPrefix(l.test, test+"/")) {
			io.WriteString(w, l.text)
		}
	}
}
