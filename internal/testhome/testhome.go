// Package testhome points a test binary's HOME, its XDG folders and
// npm's cache into a fresh temporary folder before any test runs, so
// that no test (and nothing a test starts: mcpcell, npm, node, go)
// reads or writes the real ones.
//
// Go's own folders are the exception: GOCACHE, GOMODCACHE, GOPATH and
// GOENV are resolved from the real environment first (and the go env
// file it names, without running go) and set explicitly, so a child `go
// build` keeps the real caches and settings.
//
// A test that needs a HOME of its own still sets one for the processes
// it starts; a test binary started by a test (with -test.run) whose
// environment already carries the folder made here keeps what it was
// given.
//
//	func TestMain(m *testing.M) { os.Exit(testhome.Run(m)) }
package testhome

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Marker names the folder a test binary made; its children see it and
// leave their environment as they were given it.
const Marker = "MCPCELL_TESTHOME"

// Homed are the variables that point into the temporary folder, and
// where under it.
var homed = []struct{ name, dir string }{
	{"HOME", "."},
	{"XDG_CONFIG_HOME", ".config"},
	{"XDG_STATE_HOME", ".local/state"},
	{"XDG_CACHE_HOME", ".cache"},
	{"XDG_DATA_HOME", ".local/share"},
	{"npm_config_cache", ".npm"},
}

// Runner is *testing.M, or what testscript.Main takes.
type Runner interface{ Run() int }

// Run points HOME and the rest into a fresh folder, runs the tests and
// removes the folder. It fails the run, without running a test, when
// it cannot.
func Run(m Runner) int {
	done, err := Redirect()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testhome: %v\n", err)
		return 1
	}
	defer done()
	return m.Run()
}

// M is Run as a Runner, for testscript.Main (which calls Run only when
// the binary runs tests, not when it is one of the script's commands).
func M(m Runner) Runner { return runner{m} }

type runner struct{ m Runner }

func (r runner) Run() int { return Run(r.m) }

// Redirect sets the environment as Run does and returns the function
// that removes the folder.
func Redirect() (func(), error) {
	if os.Getenv(Marker) != "" {
		return func() {}, nil
	}
	resolveGo()
	dir, err := os.MkdirTemp("", "testhome-")
	if err != nil {
		return nil, fmt.Errorf("making a HOME for the tests: %w", err)
	}
	for _, h := range homed {
		p := filepath.Join(dir, h.dir)
		if err := os.MkdirAll(p, 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("making a HOME for the tests: %w", err)
		}
		os.Setenv(h.name, p)
	}
	os.Setenv(Marker, dir)
	return func() { os.RemoveAll(dir) }, nil
}

// resolveGo sets each of Go's folders that the environment leaves to
// Go's defaults (which follow HOME) to what the go command would take:
// the value `go env -w` wrote into the GOENV file, else Go's documented
// default. It never runs the go command: that writes its telemetry
// counters into the HOME it is given (GOTELEMETRY=off in its
// environment does not stop it), which is the canary under testsuite's
// -canary. A folder it cannot name (no HOME) is left to Go, which
// without HOME has no default either.
func resolveGo() {
	set := func(name string, dir func() (string, error), elem ...string) {
		if os.Getenv(name) != "" {
			return
		}
		if d, err := dir(); err == nil {
			os.Setenv(name, filepath.Join(append([]string{d}, elem...)...))
		}
	}
	set("GOENV", os.UserConfigDir, "go", "env")
	written := goEnvFile(os.Getenv("GOENV"))
	for _, name := range []string{"GOPATH", "GOCACHE", "GOMODCACHE"} {
		if os.Getenv(name) == "" && filepath.IsAbs(written[name]) {
			os.Setenv(name, written[name])
		}
	}
	set("GOPATH", os.UserHomeDir, "go")
	set("GOCACHE", os.UserCacheDir, "go-build")
	if gopath := filepath.SplitList(os.Getenv("GOPATH")); len(gopath) > 0 && gopath[0] != "" {
		set("GOMODCACHE", func() (string, error) { return gopath[0], nil }, "pkg", "mod")
	}
}

// goEnvFile is what the go env file path holds (NAME=VALUE lines, as
// `go env -w` writes them), or nothing when there is none ("off").
func goEnvFile(path string) map[string]string {
	env := map[string]string{}
	if path == "" || path == "off" {
		return env
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return env
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			env[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return env
}
