package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// wrap writes its own path into the client's configuration for good: it
// refuses a binary in a Go build folder (go run, go test: this test
// binary is one) or a temporary folder, and says to install mcpcell
// first. The control: the same binary where no such folder is.
func TestWrapRefusesBuildBinary(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	os.MkdirAll(home, 0o755)
	config := filepath.Join(root, "claude.json")
	orig := `{"mcpServers": {"fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "` + root + `"]}}}` + "\n"
	// A copy of this binary named mcpcell, in a temporary folder: the path
	// this binary, run as mcpcell, takes for its own in two cases (a copy
	// of the test binary named mcpcell runs the real CLI, without seams).
	copied := copyTestBinary(t, filepath.Join(root, "bin", "mcpcell"))
	goBuilds := copyTestBinary(t, filepath.Join(root, "opt", "go-builds", "bin", "mcpcell"))
	self, _ := filepath.EvalSymlinks(os.Args[0])
	goBuild := buildFolder(self, nil)
	if goBuild == "" {
		t.Fatalf("this test binary, %s, is in no go-build folder: run it with go test", self)
	}
	// the temporary folder root is in, of those wrap refuses
	tmp := buildFolder(root, (&cli{getenv: os.Getenv}).buildDirs())
	if tmp == "" || !strings.HasPrefix(root, tmp) {
		t.Fatalf("the test's folder %s is in no temporary folder (%q)", root, tmp)
	}
	const hint = "mcpcell: hint: install mcpcell first: go install github.com/mcpcell/mcpcell/cmd/mcpcell@latest (or go install ./cmd/mcpcell in a clone), then run wrap with the installed binary\n"
	for _, c := range []struct {
		name    string
		argv    []string
		env     []string
		folder  string // "" for the control, which wraps
		mcpcell string
	}{
		{"this test binary", []string{os.Args[0], "__mcpcell"}, nil, tmp, ""},
		{"this test binary, no temporary folders", []string{os.Args[0], "__mcpcell"}, []string{tempDirsEnv + "="}, goBuild, ""},
		{"in a temporary folder", []string{os.Args[0], "__mcpcell"}, []string{selfEnv + "=" + copied}, tmp, ""},
		{"control: the same where no temporary folder is", []string{os.Args[0], "__mcpcell"}, []string{selfEnv + "=" + copied, tempDirsEnv + "=" + filepath.Join(root, "elsewhere")}, "", copied},
		// an install in a folder whose name only starts like Go's (review F7)
		{"installed in a go-builds folder", []string{os.Args[0], "__mcpcell"}, []string{selfEnv + "=" + goBuilds, tempDirsEnv + "=" + filepath.Join(root, "elsewhere")}, "", goBuilds},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.WriteFile(config, []byte(orig), 0o600)
			cmd := exec.Command(c.argv[0], append(c.argv[1:], "wrap", "--yes", "--client", "claude-code", "--config", config)...)
			cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_STATE_HOME="+filepath.Join(home, ".local", "state"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), anyBinaryEnv+"=")
			cmd.Env = append(cmd.Env, c.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			after, _ := os.ReadFile(config)
			if c.folder == "" {
				if err != nil || !strings.Contains(string(after), `"command": "`+c.mcpcell+`"`) {
					t.Errorf("wrap: %v; the configuration:\n%s\nstderr:\n%s\nwant the command %s", err, after, stderr.String(), c.mcpcell)
				}
				return
			}
			want := "in the temporary or build folder " + c.folder + ": the client would start whatever is there when that folder is cleaned or built again\n"
			if cmd.ProcessState.ExitCode() != exitFailed || !strings.Contains(stderr.String(), want) || !strings.HasSuffix(stderr.String(), hint) {
				t.Errorf("wrap: exit %d, stderr:\n%s\nwant %d, %q and the hint to install", cmd.ProcessState.ExitCode(), stderr.String(), exitFailed, want)
			}
			if string(after) != orig {
				t.Errorf("wrap changed the configuration it refused:\n%s", after)
			}
			if _, err := os.Stat(filepath.Join(home, ".config", "mcpcell")); err == nil {
				t.Errorf("wrap wrote profiles for a configuration it refused")
			}
		})
	}
}

// copyTestBinary puts this test binary at path (a hard link where it
// can), and returns path.
func copyTestBinary(t *testing.T, path string) string {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.Link(os.Args[0], path); err != nil {
		b, err := os.ReadFile(os.Args[0])
		if err == nil {
			err = os.WriteFile(path, b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// buildFolder, as wrap and setup apparmor use it.
func TestBuildFolder(t *testing.T) {
	dirs := []string{"/tmp", "", "/home/u/.cache/go-build"}
	for _, c := range []struct{ exe, want string }{
		{"/tmp/go-build123/b001/exe/mcpcell", "/tmp"},
		{"/tmpx/mcpcell", ""},
		{"/home/u/gotmp/go-build9/b001/mcpcell.test", "/home/u/gotmp/go-build9"},
		{"/home/u/.cache/go-build/ab/mcpcell", "/home/u/.cache/go-build"},
		{"/home/u/go/bin/mcpcell", ""},
		{"/usr/local/bin/mcpcell", ""},
		{"/home/u/src/mcpcell/mcpcell", ""}, // a folder named mcpcell is no clone
		// Go's work folders are go-build and digits; other names starting
		// so are installs' (review F7)
		{"/opt/go-builds/bin/mcpcell", ""},
		{"/home/u/src/go-buildkit/bin/mcpcell", ""},
		{"/opt/go-build/bin/mcpcell", ""},
		{"/opt/go-build12x/bin/mcpcell", ""},
		{"/opt/gotmp/go-build0/b001/exe/mcpcell", "/opt/gotmp/go-build0"},
	} {
		if got := buildFolder(c.exe, dirs); got != c.want {
			t.Errorf("buildFolder(%s) = %q, want %q", c.exe, got, c.want)
		}
	}
}

// A binary built in a clone of mcpcell's source (go build -o mcpcell)
// is refused: the clone's next build replaces it. The control: the same
// layout with another module's go.mod.
func TestBuildFolderClone(t *testing.T) {
	for _, c := range []struct {
		module string
		clone  bool
	}{{"github.com/mcpcell/mcpcell", true}, {"example.com/other", false}} {
		clone := t.TempDir()
		os.WriteFile(filepath.Join(clone, "go.mod"), []byte("// a comment\nmodule "+c.module+"\n\ngo 1.26.0\n"), 0o644)
		os.MkdirAll(filepath.Join(clone, "bin"), 0o755)
		want := ""
		if c.clone {
			want = clone
		}
		for _, exe := range []string{filepath.Join(clone, "mcpcell"), filepath.Join(clone, "bin", "mcpcell")} {
			if got := buildFolder(exe, nil); got != want {
				t.Errorf("%s, go.mod of %s: buildFolder = %q, want %q", exe, c.module, got, want)
			}
		}
	}
}

// XDG_RUNTIME_DIR (/run/user/UID, a tmpfs emptied at logout) is one of
// the temporary folders wrap refuses a binary in; the control: the same
// environment without it.
func TestBuildDirsRuntimeDir(t *testing.T) {
	const runtime, exe = "/var/run-xdg/1000", "/var/run-xdg/1000/bin/mcpcell"
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_RUNTIME_DIR": runtime}, runtime},
		{map[string]string{}, ""},
	} {
		cl := &cli{getenv: func(k string) string { return c.env[k] }}
		if got := buildFolder(exe, cl.buildDirs()); got != c.want {
			t.Errorf("with %v: buildFolder(%s) = %q, want %q", c.env, exe, got, c.want)
		}
	}
	if got := buildFolder("/run/user/1000/mcpcell", (&cli{getenv: func(string) string { return "" }}).buildDirs()); got != "/run/user" {
		t.Errorf("buildFolder(/run/user/1000/mcpcell) = %q, want /run/user", got)
	}
}
