package testhome

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv("TESTHOME_PRINT") == "1" {
		os.Exit(Run(printEnv{}))
	}
	os.Exit(Run(m))
}

var printed = append([]string{Marker, "GOCACHE", "GOMODCACHE", "GOPATH", "GOENV"}, func() []string {
	var names []string
	for _, h := range homed {
		names = append(names, h.name)
	}
	return names
}()...)

// printEnv is the child of TestRedirect: in place of the tests, it
// prints what Run left in the environment.
type printEnv struct{}

func (printEnv) Run() int {
	env := map[string]string{}
	for _, name := range printed {
		env[name] = os.Getenv(name)
	}
	b, _ := json.Marshal(env)
	os.Stdout.Write(append([]byte("ENV "), append(b, '\n')...))
	return 0
}

// child runs printEnv in a test binary started with env and
// returns what it printed.
func child(t *testing.T, env []string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(env, "TESTHOME_PRINT=1")
	if !strings.HasPrefix(strings.Join(env, "\n"), "PATH=") && !strings.Contains(strings.Join(env, "\n"), "\nPATH=") {
		cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "ENV "); ok {
			got := map[string]string{}
			if err := json.Unmarshal([]byte(rest), &got); err != nil {
				t.Fatal(err)
			}
			return got
		}
	}
	t.Fatalf("child printed no environment:\n%s", out)
	return nil
}

// TestRedirect: a test binary given the real HOME (here a stand-in)
// and no other folder runs its tests with HOME, the XDG folders and
// npm's cache in a fresh folder, removed at exit, while Go's folders
// stay those of the HOME it was given, so a child go build keeps the
// real caches. The control: a test binary that a redirected one starts
// (the marker set) keeps the HOME it is given.
func TestRedirect(t *testing.T) {
	real := t.TempDir()
	got := child(t, []string{"HOME=" + real})
	home := got["HOME"]
	if home == real || !strings.HasPrefix(home, os.TempDir()) || got[Marker] != home {
		t.Errorf("HOME %q, marker %q; want a fresh folder in %s, not %s", home, got[Marker], os.TempDir(), real)
	}
	for _, h := range homed {
		if want := filepath.Join(home, h.dir); got[h.name] != want {
			t.Errorf("%s = %q, want %q", h.name, got[h.name], want)
		}
	}
	for name, want := range map[string]string{
		"GOCACHE":    filepath.Join(real, ".cache", "go-build"),
		"GOPATH":     filepath.Join(real, "go"),
		"GOMODCACHE": filepath.Join(real, "go", "pkg", "mod"),
		"GOENV":      filepath.Join(real, ".config", "go", "env"),
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q (resolved from the HOME given)", name, got[name], want)
		}
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("the tests' HOME %s is still there after the run: %v", home, err)
	}

	// A test binary that a test starts as another user, with a few
	// variables, no HOME and no go on the PATH (sandbox's
	// runUnprivileged): its tests still run, with a HOME made here.
	bare := child(t, []string{"PATH=/nonexistent"})
	if bare["HOME"] == "" || !strings.HasPrefix(bare["HOME"], os.TempDir()) {
		t.Errorf("with no HOME and no go: HOME %q, want a fresh folder in %s", bare["HOME"], os.TempDir())
	}

	kept := child(t, []string{"HOME=" + real, Marker + "=/somewhere"})
	if kept["HOME"] != real || kept["XDG_CACHE_HOME"] != "" {
		t.Errorf("with the marker set: HOME %q, XDG_CACHE_HOME %q; want %q and unset", kept["HOME"], kept["XDG_CACHE_HOME"], real)
	}
}

// TestEveryPackage: every package of the module that has tests runs
// them through testhome (its TestMain calls testhome.Run, or testhome.M
// for testscript), so no package's tests can reach the real HOME.
func TestEveryPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .TestGoFiles}} {{$.Dir}}/{{.}}{{end}}{{range .XTestGoFiles}} {{$.Dir}}/{{.}}{{end}}`, "github.com/mcpcell/mcpcell/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue // no tests
		}
		n++
		found := false
		for _, file := range f[1:] {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "testhome.Run(m)") || strings.Contains(string(b), "testhome.M(m)") || (f[0] == "github.com/mcpcell/mcpcell/internal/testhome" && strings.Contains(string(b), "os.Exit(Run(m))")) {
				found = true
			}
		}
		if !found {
			t.Errorf("package %s has tests and no TestMain that calls testhome.Run: its tests could write into the real HOME", f[0])
		}
	}
	if n < 10 {
		t.Errorf("go list found %d packages with tests; want the module's (10 or more)", n)
	}
}

// Issue 14 review C, A5: a test binary given a canary HOME and none of
// Go's four folders (a plain `go test` with HOME set, testsuite's -canary
// without the exports .ci/test makes) ran `go env` under that HOME to
// resolve them, and the go command wrote its telemetry counters there:
// the canary reported the HOME touched. They are resolved without
// running go now: the canary is unchanged, and what the go env file
// holds (`go env -w`) is taken. Control: `go env`, run under a copy of
// the same HOME, names the same folders, and writes into that HOME.
func TestGoFoldersLeaveHomeAlone(t *testing.T) {
	canary := t.TempDir()
	envFile := filepath.Join(canary, ".config", "go", "env")
	os.MkdirAll(filepath.Dir(envFile), 0o700)
	if err := os.WriteFile(envFile, []byte("GOMODCACHE=/srv/gomod\nGOCACHE=/srv/gocache\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := TakeCanary(canary)
	if err != nil {
		t.Fatal(err)
	}
	got := child(t, []string{"HOME=" + canary})
	if changed, err := before.Changes(); err != nil || len(changed) > 0 {
		t.Errorf("the test binary touched its HOME: %v\n%s", err, strings.Join(changed, "\n"))
	}
	want := map[string]string{"GOMODCACHE": "/srv/gomod", "GOCACHE": "/srv/gocache", "GOPATH": filepath.Join(canary, "go"), "GOENV": envFile}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %q, want %q", name, got[name], w)
		}
	}

	t.Run("control: go env", func(t *testing.T) {
		other := t.TempDir()
		os.MkdirAll(filepath.Join(other, ".config", "go"), 0o700)
		b, _ := os.ReadFile(envFile)
		os.WriteFile(filepath.Join(other, ".config", "go", "env"), b, 0o600)
		snap, _ := TakeCanary(other)
		cmd := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOENV")
		cmd.Env = []string{"HOME=" + other, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go env: %v", err)
		}
		var env map[string]string
		json.Unmarshal(out, &env)
		for name, w := range want {
			if w = strings.Replace(w, canary, other, 1); env[name] != w {
				t.Errorf("go env %s = %q, want %q as resolved here", name, env[name], w)
			}
		}
		if changed, _ := snap.Changes(); len(changed) == 0 {
			t.Errorf("go env left its HOME unchanged: the canary cannot tell the old resolution")
		}
	})
}
