// Package testhome points a test binary's HOME, its XDG folders and
// npm's cache into a fresh temporary folder before any test runs, so
// that no test (and nothing a test starts: mcpcell, npm, node, go)
// reads or writes the real ones.
//
// Go's own folders are the exception: GOCACHE, GOMODCACHE, GOPATH and
// GOENV are resolved from the real environment first and set
// explicitly, so a child `go build` keeps the real caches and settings.
//
// A test that needs a HOME of its own still sets one for the processes
// it starts; a test binary started by a test (with -test.run) whose
// environment already carries the folder made here keeps what it was
// given.
//
//	func TestMain(m *testing.M) { os.Exit(testhome.Run(m)) }
package testhome

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// goFolders are Go's variables resolved from the real environment.
var goFolders = []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOENV"}

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
	if err := resolveGo(); err != nil {
		return nil, err
	}
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
// Go's defaults (which follow HOME) to what it is now.
func resolveGo() error {
	missing := false
	for _, name := range goFolders {
		if os.Getenv(name) == "" {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	out, err := exec.Command("go", append([]string{"env", "-json"}, goFolders...)...).Output()
	if err != nil {
		resolveGoByHand()
		return nil
	}
	var env map[string]string
	if err := json.Unmarshal(out, &env); err != nil {
		return fmt.Errorf("reading go env -json: %w", err)
	}
	for _, name := range goFolders {
		if os.Getenv(name) == "" && env[name] != "" {
			os.Setenv(name, env[name])
		}
	}
	return nil
}

// resolveGoByHand applies Go's documented defaults when there is no go
// command to ask (a test binary run on its own, or by a test with an
// environment of a few variables). A folder it cannot name (no HOME) is
// left to Go, which without HOME has no default either.
func resolveGoByHand() {
	set := func(name string, dir func() (string, error), elem ...string) {
		if os.Getenv(name) != "" {
			return
		}
		if d, err := dir(); err == nil {
			os.Setenv(name, filepath.Join(append([]string{d}, elem...)...))
		}
	}
	set("GOPATH", os.UserHomeDir, "go")
	set("GOCACHE", os.UserCacheDir, "go-build")
	set("GOENV", os.UserConfigDir, "go", "env")
	if gopath := filepath.SplitList(os.Getenv("GOPATH")); len(gopath) > 0 && gopath[0] != "" {
		set("GOMODCACHE", func() (string, error) { return gopath[0], nil }, "pkg", "mod")
	}
}
