package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSetupAppArmor runs setup apparmor against folders of the test's
// own: the profile for mcpcell's resolved path, written and loaded only
// with --write, and refused for a build's binary, a path AppArmor would
// read as a pattern, and a machine without AppArmor 4.0.
func TestSetupAppArmor(t *testing.T) {
	const wantProfile = "abi <abi/4.0>,\ninclude <tunables/global>\n\nprofile mcpcell %EXE% flags=(unconfined) {\n  userns,\n\n  # Site-specific additions.\n  include if exists <local/mcpcell>\n}\n"
	for _, c := range []struct {
		name string
		args []string
		exe  string // mcpcell's path, under the test's root (R)
		link bool   // exe is reached through a link at R/bin/mcpcell
		// abi: the folder has abi/4.0; noDir: there is no folder;
		// parser: the exit status of a fake apparmor_parser, -1 for none.
		abi, noDir bool
		parser     int
		build      bool // R/build is a build folder
		rc         int
		profile    string // the profile printed, or written with --write
		stderr     []string
		written    bool
		loaded     bool
	}{
		{
			name: "print", args: []string{"apparmor"}, exe: "R/usr/bin/mcpcell", abi: true,
			profile: "R/usr/bin/mcpcell",
			stderr:  []string{"mcpcell: hint: the profile lets R/usr/bin/mcpcell make a cell's own network namespace", "sudo R/usr/bin/mcpcell setup apparmor --write"},
		},
		{
			name: "print the resolved path of a link", args: []string{"apparmor"}, exe: "R/opt/mcpcell-1.0/mcpcell", link: true, abi: true,
			profile: "R/opt/mcpcell-1.0/mcpcell",
		},
		{
			name: "a path with a space is quoted", args: []string{"apparmor"}, exe: "R/my tools/mcpcell", abi: true,
			profile: `"R/my tools/mcpcell"`,
		},
		{
			name: "write and load", args: []string{"apparmor", "--write"}, exe: "R/usr/bin/mcpcell", abi: true, parser: 0,
			profile: "R/usr/bin/mcpcell", written: true, loaded: true,
			stderr: []string{"mcpcell: wrote R/apparmor.d/mcpcell, the AppArmor profile of R/usr/bin/mcpcell", "mcpcell: loaded it: R/apparmor_parser -r R/apparmor.d/mcpcell"},
		},
		{
			name: "write without apparmor_parser", args: []string{"apparmor", "--write"}, exe: "R/usr/bin/mcpcell", abi: true, parser: -1,
			profile: "R/usr/bin/mcpcell", written: true,
			stderr: []string{"mcpcell: wrote R/apparmor.d/mcpcell", "mcpcell: hint: apparmor_parser is not installed here: load the profile with apparmor_parser -r R/apparmor.d/mcpcell"},
		},
		{
			name: "apparmor_parser fails", args: []string{"apparmor", "--write"}, exe: "R/usr/bin/mcpcell", abi: true, parser: 1,
			profile: "R/usr/bin/mcpcell", written: true, loaded: true, rc: exitFailed,
			stderr: []string{"mcpcell: error: setup apparmor: R/apparmor_parser -r R/apparmor.d/mcpcell: exit status 1: parser says no", "mcpcell: hint: the profile is written but not loaded"},
		},
		{
			name: "no AppArmor", args: []string{"apparmor", "--write"}, exe: "R/usr/bin/mcpcell", noDir: true, rc: exitFailed,
			stderr: []string{"mcpcell: error: setup apparmor: this machine has no AppArmor", "mcpcell needs no profile"},
		},
		{
			name: "an AppArmor before 4.0", args: []string{"apparmor", "--write"}, exe: "R/usr/bin/mcpcell", rc: exitFailed,
			stderr: []string{"mcpcell: error: setup apparmor: this AppArmor has no abi 4.0"},
		},
		{
			name: "a build's binary", args: []string{"apparmor"}, exe: "R/build/b001/exe/mcpcell", build: true, abi: true, rc: exitFailed,
			stderr: []string{"mcpcell: error: setup apparmor: mcpcell runs from R/build/b001/exe/mcpcell, in the temporary or build folder R/build: the profile attaches by path", "mcpcell: hint: install mcpcell"},
		},
		{
			name: "a build's binary reached through a link", args: []string{"apparmor", "--write"}, exe: "R/build/b001/exe/mcpcell", link: true, build: true, abi: true, rc: exitFailed,
			stderr: []string{"in the temporary or build folder R/build"},
		},
		{
			name: "the control: the same binary where no build folder is", args: []string{"apparmor"}, exe: "R/build/b001/exe/mcpcell", abi: true,
			profile: "R/build/b001/exe/mcpcell",
		},
		{
			name: "a go-build folder anywhere", args: []string{"apparmor"}, exe: "R/x/go-build123/b001/exe/mcpcell", abi: true, rc: exitFailed,
			stderr: []string{"in the temporary or build folder R/x/go-build123: the profile attaches by path"},
		},
		{
			name: "a path AppArmor reads as a pattern", args: []string{"apparmor"}, exe: "R/bin*/mcpcell", abi: true, rc: exitFailed,
			stderr: []string{"has a character AppArmor reads as a pattern"},
		},
		{name: "nothing to set up", args: nil, rc: exitUsage, stderr: []string{"mcpcell: error: setup: name what to set up"}},
		{name: "something else to set up", args: []string{"selinux"}, rc: exitUsage, stderr: []string{`mcpcell: error: setup: unknown "selinux"`}},
		{name: "an unknown flag", args: []string{"apparmor", "--force"}, rc: exitUsage, stderr: []string{"flag provided but not defined: -force"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			r := strings.NewReplacer("R/", root+"/")
			exe := r.Replace(c.exe)
			if c.exe != "" {
				os.MkdirAll(filepath.Dir(exe), 0o755)
				if err := os.WriteFile(exe, []byte("mcpcell"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			started := exe
			if c.link {
				started = filepath.Join(root, "bin", "mcpcell")
				os.MkdirAll(filepath.Dir(started), 0o755)
				os.Symlink(exe, started)
			}
			dir := filepath.Join(root, "apparmor.d")
			if !c.noDir {
				os.MkdirAll(filepath.Join(dir, "abi"), 0o755)
			}
			if c.abi {
				os.WriteFile(filepath.Join(dir, "abi", "4.0"), nil, 0o644)
			}
			parser := filepath.Join(root, "apparmor_parser")
			calls := filepath.Join(root, "calls")
			script := "#!/bin/sh\necho \"$@\" >> " + calls + "\n"
			if c.parser > 0 {
				script += "echo parser says no >&2\nexit 1\n"
			}
			os.WriteFile(parser, []byte(script), 0o755)
			build := []string{filepath.Join(root, "elsewhere")}
			if c.build {
				build = append(build, filepath.Join(root, "build"))
			}
			var out, errb bytes.Buffer
			cl := &cli{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, apparmor: appArmor{
				dir:        dir,
				executable: func() (string, error) { return started, nil },
				lookPath: func(name string) (string, error) {
					if name != "apparmor_parser" || c.parser < 0 {
						return "", errors.New("not found")
					}
					return parser, nil
				},
				buildDirs: build,
			}}
			rc := cl.setup(c.args)
			if rc != c.rc {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", rc, c.rc, errb.String())
			}
			for _, w := range c.stderr {
				if w := r.Replace(w); !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			written, err := os.ReadFile(filepath.Join(dir, "mcpcell"))
			if c.written != (err == nil) {
				t.Errorf("profile written: %v, want %v", err == nil, c.written)
			}
			shown := out.String()
			if c.written {
				shown = string(written)
				if out.Len() > 0 {
					t.Errorf("--write printed to stdout:\n%s", out.String())
				}
				if st, err := os.Stat(filepath.Join(dir, "mcpcell")); err != nil || st.Mode().Perm() != 0o644 {
					t.Errorf("profile mode: %v, %v; want 0644", st.Mode(), err)
				}
			}
			if c.profile == "" && shown != "" {
				t.Errorf("a profile where none is wanted:\n%s", shown)
			}
			if c.profile != "" {
				want := strings.ReplaceAll(wantProfile, "%EXE%", r.Replace(c.profile))
				if !strings.HasPrefix(shown, "# mcpcell: written by mcpcell setup apparmor.\n") || !strings.HasSuffix(shown, want) {
					t.Errorf("profile:\n%s\nwant it to end:\n%s", shown, want)
				}
			}
			got, _ := os.ReadFile(calls)
			if want := "-r " + filepath.Join(dir, "mcpcell") + "\n"; c.loaded != (string(got) == want) {
				t.Errorf("apparmor_parser ran with %q; loaded: %v", got, c.loaded)
			}
		})
	}
}
