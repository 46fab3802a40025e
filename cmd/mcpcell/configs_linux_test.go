package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cellRun runs `mcpcell run ARGS…` to its end, with stdin at EOF, in dir,
// with HOME and mcpcell's own folders in home. It returns stderr (where
// the server's non-JSON stdout lines also land) and the exit status.
func cellRun(t *testing.T, dir, home string, env []string, args ...string) (string, int) {
	t.Helper()
	// Trusted first, as a user does; a profile trust refuses, run refuses
	// too, and says why.
	mcpcellIn(t, dir, home, env, append([]string{"trust", "--yes"}, args...)...)
	_, stderr, code := mcpcellIn(t, dir, home, env, append([]string{"run"}, args...)...)
	return stderr, code
}

// mcpcellIn runs mcpcell ARGS… in dir with HOME and mcpcell's folders in
// home, stdin at EOF.
func mcpcellIn(t *testing.T, dir, home string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return mcpcellStdin(t, nil, dir, home, env, args...)
}

// mcpcellStdin is mcpcellIn with stdin read from in (a file: os/exec
// would wait for a copy from any other reader to end).
func mcpcellStdin(t *testing.T, in *os.File, dir, home string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"__mcpcell"}, args...)...)
	if in != nil {
		cmd.Stdin = in
	}
	cmd.Dir = dir
	cmd.Env = append(homeEnv(home), env...)
	var outb, errb bytes.Buffer
	cmd.Stderr, cmd.Stdout = &errb, &outb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("mcpcell %v did not end in 60 s; stderr:\n%s", args, errb.String())
	}
	return outb.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// testHome makes a HOME for one test, with mcpcell's folders in it.
func testHome(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return home
}

// need node and python3 from the system (the presets grant them).
func systemTool(t *testing.T, path string) string {
	t.Helper()
	_, err := os.Stat(path)
	need(t, path, err == nil)
	return path
}

// Requirement: the commands client configs start servers with run in the
// default cell. Each failed before exec implied read (Landlock's execve
// needs READ_FILE as well as EXECUTE).
func TestDefaultCellStartsCommonCommands(t *testing.T) {
	systemTool(t, "/usr/bin/node")
	python := systemTool(t, "/usr/bin/python3")
	home := testHome(t)
	project := t.TempDir()
	// A `#!/usr/bin/env node` script in a folder the profile grants to
	// run (and so to read), outside the project.
	bin := t.TempDir()
	script := filepath.Join(bin, "server.js")
	os.WriteFile(script, []byte("#!/usr/bin/env node\nconst out = require('child_process').execSync('echo from-sh').toString().trim();\nconsole.error('script ran, execSync said ' + out);\nprocess.exit(5);\n"), 0o755)
	profile := filepath.Join(project, ".mcpcell.toml")
	os.WriteFile(profile, []byte(fmt.Sprintf("include = [\"default\"]\n[filesystem]\nexec = [%q]\n", bin)), 0o600)
	for _, tc := range []struct {
		name string
		cmd  []string
		code int
		want string // in stderr
	}{
		{"sh -c", []string{"/bin/sh", "-c", "echo via-sh >&2; exit 7"}, 7, "via-sh"},
		{"sh on the PATH", []string{"sh", "-c", "exit 3"}, 3, ""},
		{"npx --version", []string{"npx", "--version"}, 0, "(not passed to the client): " + npxVersion(t)},
		{"#!/usr/bin/env node script with execSync", []string{script}, 5, "script ran, execSync said from-sh"},
		{"node child_process.execSync", []string{"node", "-e", "process.stderr.write(require('child_process').execSync('echo hi; uname').toString())"}, 0, "hi\nLinux"},
		{"python subprocess.run sh", []string{python, "-c", "import subprocess,sys; r = subprocess.run(['sh', '-c', 'echo py-sh >&2; exit 4']); sys.exit(r.returncode)"}, 4, "py-sh"},
		{"npm --version", []string{"npm", "--version"}, 0, "(not passed to the client): " + npxVersion(t)},
		{"git --version", []string{"git", "--version"}, 0, "git version"},
		{"git init and status (git-core helpers)", []string{"/bin/sh", "-c", "git init -q repo && cd repo && git status --short && git rev-parse --git-dir >&2"}, 0, ".git"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(strings.Join(tc.cmd, " "), "git ") {
				_, err := os.Stat("/usr/bin/git")
				need(t, "/usr/bin/git", err == nil)
			}
			stderr, code := cellRun(t, project, home, nil, append([]string{"--profile", profile, "--"}, tc.cmd...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("%v: exit %d, want %d; stderr %q does not hold %q", tc.cmd, code, tc.code, stderr, tc.want)
			}
			if strings.Contains(stderr, "ermission denied") || strings.Contains(stderr, "EACCES") {
				t.Errorf("a permission was missing:\n%s", stderr)
			}
		})
	}
}

func npxVersion(t *testing.T) string {
	out, err := exec.Command("npx", "--version").Output()
	need(t, "npx", err == nil)
	return strings.TrimSpace(string(out))
}

// `check` shows exec grants as read+exec.
func TestCheckShowsReadExec(t *testing.T) {
	project := t.TempDir()
	profile := filepath.Join(project, ".mcpcell.toml")
	os.WriteFile(profile, []byte("include = [\"base\"]\n"), 0o600)
	home := testHome(t)
	out, stderr, code := mcpcellIn(t, project, home, nil, "check", "--profile", profile)
	if code != 0 {
		t.Fatalf("check: %d\n%s", code, stderr)
	}
	if want := `(?m)^  read\+exec +/usr/bin/env +preset:base:\d+$`; !regexp.MustCompile(want).MatchString(out) {
		t.Errorf("check output has no line %s:\n%s", want, out)
	}
	out, stderr, code = mcpcellIn(t, project, home, nil, "check", "--verbose", "--profile", profile)
	if code != 0 {
		t.Fatalf("check --verbose: %d\n%s", code, stderr)
	}
	for _, want := range []string{`(?m)^  read\+exec +/usr/bin/env +preset:base:\d+$`, `(?m)^  read\+exec +/usr/bin/env(, /bin/env -> /usr/bin/env)?$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("check --verbose output has no line %s:\n%s", want, out)
		}
	}
}

// layout is a runtime installed the way a version manager installs it:
// the interpreter (a hard link to, or copy of, the system one) at rel
// below HOME.
type layout struct {
	manager string
	rel     string
}

// installer puts copies of system programs at paths of a test's choice.
// Each program is copied once, then hard-linked: a hard link to the
// system file itself would carry that file's Landlock grant (rules attach
// to inodes), so a copy is what a version manager's own file is.
type installer struct {
	t      *testing.T
	copies map[string]string
}

func newInstaller(t *testing.T) *installer { return &installer{t: t, copies: map[string]string{}} }

func (in *installer) install(src, dst string) {
	t := in.t
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	cp := in.copies[src]
	if cp == "" {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		cp = filepath.Join(t.TempDir(), filepath.Base(src))
		if err := os.WriteFile(cp, b, 0o755); err != nil {
			t.Fatal(err)
		}
		in.copies[src] = cp
	}
	if os.Link(cp, dst) == nil {
		return
	}
	b, _ := os.ReadFile(cp)
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// Requirement: Node and Python from the version managers' own folders
// start under the node and python presets, read+exec, never write; and a
// runtime outside every grant is refused with its real path and the line
// that would grant it.
func TestRuntimeManagers(t *testing.T) {
	node := systemTool(t, "/usr/bin/node")
	python, err := filepath.EvalSymlinks(systemTool(t, "/usr/bin/python3"))
	if err != nil {
		t.Fatal(err)
	}
	home := testHome(t)
	project := t.TempDir()
	in := newInstaller(t)
	nodeProfile := filepath.Join(project, "node.toml")
	os.WriteFile(nodeProfile, []byte("include = [\"node\"]\n[filesystem]\nread = [\"${PROJECT}\"]\n"), 0o600)
	pyProfile := filepath.Join(project, "python.toml")
	os.WriteFile(pyProfile, []byte("include = [\"python\"]\n[filesystem]\nread = [\"${PROJECT}\"]\n"), 0o600)
	// The interpreter tries to write next to itself: never allowed.
	nodeJS := `const fs = require('fs'); let w = 'no'; try { fs.writeFileSync(process.execPath + '.planted', 'x'); w = 'YES' } catch (e) { w = e.code } console.error('node ' + process.version + ' from ' + process.execPath + ' wrote in its prefix: ' + w)`
	pyCode := `import sys
try:
    open(sys.executable + '.planted', 'w'); w = 'YES'
except OSError as e:
    w = type(e).__name__
print('python from', sys.executable, 'wrote in its prefix:', w, file=sys.stderr)`
	for _, l := range []layout{
		{"nvm", ".nvm/versions/node/v20.11.0/bin/node"},
		{"fnm", ".local/share/fnm/node-versions/v20.11.0/installation/bin/node"},
		{"volta", ".volta/tools/image/node/20.11.0/bin/node"},
		{"asdf", ".asdf/installs/nodejs/20.11.0/bin/node"},
		{"mise", ".local/share/mise/installs/node/20.11.0/bin/node"},
		{"linuxbrew", ".linuxbrew/Cellar/node/20.11.0/bin/node"},
		{"pyenv", ".pyenv/versions/3.12.1/bin/python3"},
		{"uv", ".local/share/uv/python/cpython-3.12.1-linux-x86_64-gnu/bin/python3"},
		{"conda", "miniconda3/envs/mcp/bin/python3"},
		{"conda envs", ".conda/envs/mcp/bin/python3"},
		{"virtualenvwrapper", ".virtualenvs/mcp/bin/python3"},
		{"pipx", ".local/share/pipx/venvs/mcp/bin/python3"},
	} {
		t.Run(l.manager, func(t *testing.T) {
			isNode := strings.HasSuffix(l.rel, "/node")
			src, profile, code, want := python, pyProfile, pyCode, "wrote in its prefix: PermissionError"
			if isNode {
				src, profile, code, want = node, nodeProfile, nodeJS, "wrote in its prefix: EACCES"
			}
			exe := filepath.Join(home, l.rel)
			in.install(src, exe)
			flag := "-c"
			if isNode {
				flag = "-e"
			}
			stderr, rc := cellRun(t, project, home, nil, "--profile", profile, "--", exe, flag, code)
			if rc != 0 || !strings.Contains(stderr, "from "+exe) || !strings.Contains(stderr, want) {
				t.Errorf("%s: exit %d; stderr:\n%s\nwant it to run from %s and fail to write (%s)", l.manager, rc, stderr, exe, want)
			}
			if _, err := os.Stat(exe + ".planted"); err == nil {
				t.Errorf("the server wrote into the runtime's folder")
			}
		})
	}
	// uv and uvx where uv's installer puts them (copies of sh here).
	t.Run("uv and uvx", func(t *testing.T) {
		for _, name := range []string{"uv", "uvx"} {
			exe := filepath.Join(home, ".local", "bin", name)
			in.install("/bin/sh", exe)
			stderr, rc := cellRun(t, project, home, nil, "--profile", pyProfile, "--", exe, "-c", "echo "+name+" ran >&2")
			if rc != 0 || !strings.Contains(stderr, name+" ran") {
				t.Errorf("%s: exit %d; stderr:\n%s", name, rc, stderr)
			}
		}
	})
	// pyenv's shims are bash scripts that find the version with coreutils.
	t.Run("pyenv shim", func(t *testing.T) {
		shim := filepath.Join(home, ".pyenv", "shims", "python3")
		os.MkdirAll(filepath.Dir(shim), 0o755)
		os.WriteFile(shim, []byte("#!/usr/bin/env bash\nset -e\nroot=\"$(dirname \"$(dirname \"$(readlink -f \"$0\")\")\")\"\nexec \"$root/versions/$(cat \"$root/version\")/bin/$(basename \"$0\")\" \"$@\"\n"), 0o755)
		os.WriteFile(filepath.Join(home, ".pyenv", "version"), []byte("3.12.1"), 0o644)
		path := []string{"PATH=" + filepath.Dir(shim) + ":/usr/bin:/bin"}
		stderr, rc := cellRun(t, project, home, path, "--profile", pyProfile, "--", "python3", "-c", pyCode)
		if rc != 0 || !strings.Contains(stderr, "from "+filepath.Join(home, ".pyenv/versions/3.12.1/bin/python3")) {
			t.Errorf("exit %d; stderr:\n%s", rc, stderr)
		}
	})
	// A project's virtual environment: its python is a link to a granted
	// interpreter, and its pyvenv.cfg is read from the project.
	t.Run("project .venv", func(t *testing.T) {
		venv := filepath.Join(project, ".venv")
		if out, err := exec.Command("/usr/bin/python3", "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
			need(t, "python3 -m venv (Debian's python3-venv)", false)
			t.Fatalf("%v: %s", err, out)
		}
		stderr, rc := cellRun(t, project, home, nil, "--profile", pyProfile, "--", filepath.Join(venv, "bin", "python"), "-c", "import sys; print('prefix', sys.prefix, file=sys.stderr)")
		if rc != 0 || !strings.Contains(stderr, "prefix "+venv) {
			t.Errorf("exit %d; stderr:\n%s", rc, stderr)
		}
	})
	// Control: the same runtime where no preset looks is refused before
	// it starts, with its real path and the line that grants it.
	t.Run("outside every grant", func(t *testing.T) {
		exe := filepath.Join(home, ".nodenv/versions/20.11.0/bin/node")
		in.install(node, exe)
		link := filepath.Join(home, "bin", "node")
		os.MkdirAll(filepath.Dir(link), 0o755)
		os.Symlink(exe, link)
		stderr, rc := cellRun(t, project, home, nil, "--profile", nodeProfile, "--", link, "-e", "console.error('RAN')")
		if rc != exitFailed || strings.Contains(stderr, "RAN") {
			t.Fatalf("exit %d, want %d (refused); stderr:\n%s", rc, exitFailed, stderr)
		}
		for _, want := range []string{
			fmt.Sprintf("the server command %s is %s, which no exec grant covers", link, exe),
			fmt.Sprintf(`hint: grant it in the profile: [filesystem] exec = [%q]`, exe),
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		// And the line the hint gives makes it start.
		granted := filepath.Join(project, "granted.toml")
		os.WriteFile(granted, []byte(fmt.Sprintf("include = [\"node.toml\"]\n[filesystem]\nexec = [%q]\n", exe)), 0o600)
		stderr, rc = cellRun(t, project, home, nil, "--profile", granted, "--", link, "-e", "console.error('RAN')")
		if rc != 0 || !strings.Contains(stderr, "RAN") {
			t.Errorf("with the hint's line: exit %d; stderr:\n%s", rc, stderr)
		}
	})
}

// The interpreter a #! line names, directly or through /usr/bin/env,
// must be inside a grant; the refusal names it.
func TestInterpreterOutsideGrants(t *testing.T) {
	node := systemTool(t, "/usr/bin/node")
	home := testHome(t)
	project := t.TempDir()
	bin := t.TempDir()
	hidden := filepath.Join(t.TempDir(), "opt", "node22", "bin", "node")
	newInstaller(t).install(node, hidden)
	profile := filepath.Join(project, ".mcpcell.toml")
	os.WriteFile(profile, []byte(fmt.Sprintf("include = [\"node\"]\n[filesystem]\nread = [\"${PROJECT}\"]\nexec = [%q]\n", bin)), 0o600)
	direct := filepath.Join(bin, "direct.js")
	os.WriteFile(direct, []byte("#!"+hidden+"\nconsole.error('RAN')\n"), 0o755)
	viaEnv := filepath.Join(bin, "via-env.js")
	os.WriteFile(viaEnv, []byte("#!/usr/bin/env -S node --no-warnings\nconsole.error('RAN from ' + process.execPath)\n"), 0o755)

	stderr, rc := cellRun(t, project, home, nil, "--profile", profile, "--", direct)
	want := fmt.Sprintf("the server command %s runs %s (the #! line of %s), which no exec grant covers", direct, hidden, direct)
	if rc != exitFailed || !strings.Contains(stderr, want) || !strings.Contains(stderr, fmt.Sprintf("exec = [%q]", hidden)) {
		t.Errorf("direct #!: exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
	}
	// Through env, with only the hidden node on the PATH: refused.
	onlyHidden := []string{"PATH=" + filepath.Dir(hidden) + ":/usr/bin:/bin"}
	stderr, rc = cellRun(t, project, home, onlyHidden, "--profile", profile, "--", viaEnv)
	if rc != 0 || !strings.Contains(stderr, "RAN from /usr/bin/node") {
		// env, like execvp, goes past a node it may not run to the next
		// one on the PATH: /usr/bin/node, which the preset grants.
		t.Errorf("via env with an ungranted node first on the PATH: exit %d; stderr:\n%s", rc, stderr)
	}
	noSystem := []string{"PATH=" + filepath.Dir(hidden)}
	stderr, rc = cellRun(t, project, home, noSystem, "--profile", profile, "--", viaEnv)
	want = fmt.Sprintf("runs %s (the /usr/bin/env in the #! line of %s), which no exec grant covers", hidden, viaEnv)
	if rc != exitFailed || !strings.Contains(stderr, want) {
		t.Errorf("via env, only an ungranted node: exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
	}
}

// Requirement: with no profile file, the working folder never becomes a
// project when it is /, the home folder, above it, or a system folder:
// a server there would read ~/.ssh and write outside. The control names
// the home folder as the project on purpose, and the same server reads
// the key.
func TestNoFailOpenProject(t *testing.T) {
	home := testHome(t)
	key := filepath.Join(home, ".ssh", "id_rsa")
	os.MkdirAll(filepath.Dir(key), 0o700)
	os.WriteFile(key, []byte("CANARY-PRIVATE-KEY\n"), 0o600)
	planted := filepath.Join(home, "planted")
	attack := []string{"--", "/bin/sh", "-c", fmt.Sprintf("cat %s; echo x > %s", key, planted)}
	cases := []struct{ cwd, why string }{
		{home, "your home folder"},
		{filepath.Dir(home), "a folder above your home folder"},
		{"/usr", "a system folder (/usr)"},
		{"/usr/local/lib", "a system folder (/usr)"},
		{"/etc", "a system folder (/etc)"},
		{"/var", "a system folder (/var)"},
		{"/var/lib", "a system folder (/var)"},
		{"/tmp", ""}, // a system folder, and here above the test's HOME too
	}
	if _, err := os.Stat("/" + ".mcpcell.toml"); err != nil {
		cases = append(cases, struct{ cwd, why string }{"/", "the root folder"})
	}
	// The home folder the user database names, while the client set HOME
	// elsewhere.
	if u, err := user.Current(); err == nil && u.HomeDir != "" && u.HomeDir != "/" {
		if _, err := os.Stat(filepath.Join(u.HomeDir, ".mcpcell.toml")); err != nil {
			cases = append(cases, struct{ cwd, why string }{u.HomeDir, "your home folder"})
		}
	}
	for _, tc := range cases {
		t.Run(tc.cwd, func(t *testing.T) {
			stderr, rc := cellRun(t, tc.cwd, home, nil, attack...)
			want := fmt.Sprintf("mcpcell: error: no profile file names a project, and the working folder %s is %s", tc.cwd, tc.why)
			if rc != exitFailed || !strings.Contains(stderr, want) {
				t.Errorf("exit %d, want %d; stderr:\n%s\nwant %q", rc, exitFailed, stderr, want)
			}
			for _, hint := range []string{"--project DIR", ".mcpcell.toml in the project", "mcpcell wrap"} {
				if !strings.Contains(stderr, hint) {
					t.Errorf("no way out %q in:\n%s", hint, stderr)
				}
			}
			if strings.Contains(stderr, "CANARY") {
				t.Errorf("the server read the key")
			}
			if _, err := os.Stat(planted); err == nil {
				t.Errorf("the server wrote in the home folder")
			}
		})
	}
	// Reading the audit log starts no server: it works from anywhere.
	t.Run("audit from /", func(t *testing.T) {
		_, stderr, _ := mcpcellIn(t, "/", home, nil, "audit")
		if strings.Contains(stderr, "no profile file names a project") {
			t.Errorf("audit refused:\n%s", stderr)
		}
	})
	// An ordinary folder is a project: the start line names it, and the
	// key outside it stays out of reach.
	t.Run("a project folder", func(t *testing.T) {
		project := t.TempDir()
		stderr, rc := cellRun(t, project, home, nil, attack...)
		want := fmt.Sprintf("mcpcell: profile (the embedded default), project %s (the working folder)\n", project)
		if !strings.HasPrefix(stderr, want) {
			t.Errorf("stderr does not start with %q:\n%s", want, stderr)
		}
		if strings.Contains(stderr, "CANARY") || rc == 0 {
			t.Errorf("exit %d; the server read the key or wrote outside:\n%s", rc, stderr)
		}
		if _, err := os.Stat(planted); err == nil {
			t.Errorf("the server wrote in the home folder")
		}
	})
	// --project does not make such a folder a project of the embedded
	// profile either (a client config's `--project .` from /).
	for _, dir := range []string{"/", home, "/usr", "/var/lib"} {
		t.Run("--project "+dir, func(t *testing.T) {
			stderr, rc := cellRun(t, "/", home, nil, append([]string{"--project", dir}, attack...)...)
			if rc != exitFailed || !strings.Contains(stderr, fmt.Sprintf("mcpcell: error: the project %s (--project) is ", dir)) || strings.Contains(stderr, "CANARY") {
				t.Errorf("exit %d; stderr:\n%s", rc, stderr)
			}
		})
	}
	// Control: a profile file the user wrote grants the home folder on
	// purpose. mcpcell warns, and the same server reads the key. (Only
	// read: a write grant there holds mcpcell's own ~/.local/state/mcpcell
	// and is refused, see TestOwnFoldersNeverWritable.)
	t.Run("control: a profile file with --project HOME", func(t *testing.T) {
		profile := filepath.Join(t.TempDir(), ".mcpcell.toml")
		os.WriteFile(profile, []byte("include = [\"base\"]\n[filesystem]\nread = [\"${PROJECT}\"]\n"), 0o600)
		stderr, rc := cellRun(t, "/", home, nil, "--profile", profile, "--project", home, "--", "/bin/sh", "-c", "cat "+key)
		if rc != 0 || !strings.Contains(stderr, "CANARY") {
			t.Fatalf("exit %d; the control did not read the key:\n%s", rc, stderr)
		}
		want := fmt.Sprintf("mcpcell: warning: the profile grants read on %s, your home folder (%s:3)", home, profile)
		if !strings.Contains(stderr, want) {
			t.Errorf("no warning %q:\n%s", want, stderr)
		}
		os.Remove(planted)
	})
}

// A profile that grants the home folder or / explicitly still works, and
// check and every start say so.
func TestBroadGrantWarns(t *testing.T) {
	home := testHome(t)
	project := t.TempDir()
	profile := filepath.Join(project, ".mcpcell.toml")
	// (A write grant on the home folder holds mcpcell's own folders, and
	// is refused: see TestOwnFoldersNeverWritable.)
	os.WriteFile(profile, []byte("include = [\"default\"]\n[filesystem]\nread = [\"${HOME}\", \"/\"]\nwrite = [\"/var/tmp\"]\n"), 0o600)
	var env []string
	out, stderr, rc := mcpcellIn(t, project, home, env, "check", "--profile", profile)
	if rc != 0 {
		t.Fatalf("check: exit %d\n%s", rc, stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("the profile grants read on %s, your home folder (%s:3)", home, profile),
		fmt.Sprintf("the profile grants read on /, the root folder (%s:3)", profile),
		fmt.Sprintf("the profile grants write on /var/tmp, a system folder (/var) (%s:4)", profile),
	} {
		if !regexp.MustCompile(`(?m)^  warning +` + regexp.QuoteMeta(want)).MatchString(out) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
		if !strings.Contains(stderr, "mcpcell: warning: "+want) {
			t.Errorf("check stderr lacks the warning %q:\n%s", want, stderr)
		}
	}
	stderr, rc = cellRun(t, project, home, env, "--profile", profile, "--", "/bin/sh", "-c", "true")
	if rc != 0 || !strings.Contains(stderr, fmt.Sprintf("mcpcell: warning: the profile grants read on %s, your home folder (%s:3)", home, profile)) {
		t.Errorf("run: exit %d; stderr:\n%s", rc, stderr)
	}
}

// A project that holds a runtime the presets grant read+exec would let
// the server rewrite the node it runs: refused for the embedded profile
// (~/.nvm holds nvm's node, and is a hidden folder of the home folder
// besides), warned about when a profile file grants it on purpose. (Not
// ~/.local: that holds mcpcell's own ~/.local/state/mcpcell.)
func TestRuntimeNotWritableThroughProject(t *testing.T) {
	node := systemTool(t, "/usr/bin/node")
	home := testHome(t)
	var env []string
	exe := filepath.Join(home, ".nvm/versions/node/v20.11.0/bin/node")
	newInstaller(t).install(node, exe)
	local := filepath.Join(home, ".nvm")
	attack := []string{"--", "/bin/sh", "-c", fmt.Sprintf("echo '#!/bin/sh' > %s && echo REWROTE >&2", exe)}
	stderr, rc := cellRun(t, local, home, env, attack...)
	if rc != exitFailed || strings.Contains(stderr, "REWROTE") {
		t.Errorf("exit %d; stderr:\n%s", rc, stderr)
	}
	// A profile file that grants it: the start warns, naming the runtime,
	// and the same server rewrites it (the control).
	profile := filepath.Join(t.TempDir(), "p.toml")
	os.WriteFile(profile, []byte("include = [\"default\"]\n"), 0o600)
	stderr, rc = cellRun(t, local, home, env, append([]string{"--profile", profile, "--project", local}, attack...)...)
	want := fmt.Sprintf("mcpcell: warning: the profile grants write on %s (preset:default:7), which holds %s that the presets grant read+exec only", local, filepath.Join(local, "versions"))
	if rc != 0 || !strings.Contains(stderr, "REWROTE") || !strings.Contains(stderr, want) {
		t.Errorf("control: exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
	}
}

// `npx -y PKG` installs the package in the cell's own npm cache and runs
// its bin from there: the node preset grants that folder read+exec. The
// package here is a tarball in the project, so npx needs no network; the
// install and the run are those of a download.
func TestNpxRunsWhatItInstalls(t *testing.T) {
	_, err := exec.LookPath("npx")
	need(t, "npx", err == nil)
	home := testHome(t)
	project := t.TempDir()
	pkg := filepath.Join(t.TempDir(), "pkg")
	os.MkdirAll(filepath.Join(pkg, "bin"), 0o755)
	os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{"name":"mcpcell-tiny","version":"1.0.0","bin":{"mcpcell-tiny":"bin/t.js"}}`), 0o644)
	os.WriteFile(filepath.Join(pkg, "bin", "t.js"), []byte("#!/usr/bin/env node\nconsole.error('tiny server ran from ' + __filename)\n"), 0o755)
	pack := exec.Command("npm", "pack", "--silent", pkg)
	pack.Dir = project
	pack.Env = append(os.Environ(), "HOME="+home, "npm_config_cache="+filepath.Join(home, "npm-pack-cache"), "npm_config_update_notifier=false")
	if out, err := pack.CombinedOutput(); err != nil {
		t.Fatalf("npm pack: %v\n%s", err, out)
	}
	// The client stays connected until the server exits: npx installs
	// first, which may take longer than the grace a closed stdin gets.
	args := []string{"--", "npx", "-y", "--offline", "./mcpcell-tiny-1.0.0.tgz"}
	mcpcellIn(t, project, home, nil, append([]string{"trust", "--yes"}, args...)...)
	open, held, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	defer held.Close()
	_, stderr, rc := mcpcellStdin(t, open, project, home, nil, append([]string{"run"}, args...)...)
	if rc != 0 || !regexp.MustCompile(`tiny server ran from \S+/mcpcell/cells/\S+/npm/_npx/`).MatchString(stderr) {
		t.Errorf("exit %d; stderr:\n%s", rc, stderr)
	}
}

// mcpcell's own folders (its state with the audit logs, its settings,
// other cells' caches) and the hidden folders of the home folder are no
// project, and no write grant may hold them: a server there rewrote the
// audit log, read ~/.ssh and appended to authorized_keys.
func TestOwnFoldersNeverWritable(t *testing.T) {
	home := testHome(t)
	state := filepath.Join(t.TempDir(), "xdg-state") // XDG_STATE_HOME outside the home folder
	for _, d := range []string{".ssh", ".local/state/mcpcell/audit", ".config/mcpcell", ".cache/mcpcell/cells", ".aws"} {
		os.MkdirAll(filepath.Join(home, d), 0o700)
	}
	os.MkdirAll(filepath.Join(state, "mcpcell", "audit"), 0o700)
	env := []string{"XDG_STATE_HOME=" + state}
	attack := []string{"--", "/bin/sh", "-c", "echo x >> planted && echo WROTE >&2"}
	for _, tc := range []struct{ cwd, why string }{
		{filepath.Join(home, ".ssh"), "in a hidden folder of your home folder (~/.ssh)"},
		{filepath.Join(home, ".aws"), "in a hidden folder of your home folder (~/.aws)"},
		{filepath.Join(home, ".config"), "in a hidden folder of your home folder (~/.config)"},
		{filepath.Join(home, ".local"), "in a hidden folder of your home folder (~/.local)"},
		{filepath.Join(state, "mcpcell"), "in mcpcell's own folder " + filepath.Join(state, "mcpcell")},
		{filepath.Join(state, "mcpcell", "audit"), "in mcpcell's own folder " + filepath.Join(state, "mcpcell")},
		{state, "a folder that holds mcpcell's own " + filepath.Join(state, "mcpcell")},
	} {
		t.Run("project "+tc.cwd, func(t *testing.T) {
			stderr, rc := cellRun(t, tc.cwd, home, env, attack...)
			if rc != exitFailed || !strings.Contains(stderr, "is "+tc.why) || strings.Contains(stderr, "WROTE") {
				t.Errorf("exit %d; stderr:\n%s\nwant %q", rc, stderr, tc.why)
			}
		})
	}
	project := t.TempDir()
	for _, tc := range []struct{ name, profile, want string }{
		{"the audit log in the project", "include = [\"default\"]\n[audit]\npath = \"${PROJECT}/audit.jsonl\"\n", "holds mcpcell's own audit log " + filepath.Join(project, "audit.jsonl")},
		{"a write grant in ${STATE}", "include = [\"default\"]\n[filesystem]\nwrite = [\"${STATE}/audit\"]\n", "lies in mcpcell's own folder " + filepath.Join(state, "mcpcell")},
		{"a write grant on ${STATE}'s parent", "include = [\"default\"]\n[filesystem]\nwrite = [\"" + state + "\"]\n", "holds mcpcell's own folder " + filepath.Join(state, "mcpcell")},
		{"a write grant on another cell's cache", "include = [\"default\"]\n[filesystem]\nwrite = [\"" + filepath.Join(home, ".cache/mcpcell/cells") + "\"]\n", "lies in mcpcell's own folder " + filepath.Join(home, ".cache/mcpcell")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(project, "p.toml")
			os.WriteFile(path, []byte(tc.profile), 0o600)
			// trust refuses it as check does, at its line; run, which
			// has no record of it, refuses it too.
			_, stderr, rc := mcpcellIn(t, project, home, env, append([]string{"trust", "--yes", "--profile", path}, attack...)...)
			if rc != exitFailed || !strings.Contains(stderr, tc.want) {
				t.Errorf("trust: exit %d; stderr:\n%s\nwant %q", rc, stderr, tc.want)
			}
			stderr, rc = cellRun(t, project, home, env, append([]string{"--profile", path}, attack...)...)
			if rc != exitFailed || strings.Contains(stderr, "WROTE") {
				t.Errorf("run: exit %d; stderr:\n%s", rc, stderr)
			}
		})
	}
	// A grant of the whole home folder, written on purpose, holds
	// mcpcell's own folders there (the trust store among them): an error
	// at its line. With them elsewhere it works, and says it is broad.
	t.Run("write on ${HOME} that holds mcpcell's own folders", func(t *testing.T) {
		path := filepath.Join(project, "home.toml")
		os.WriteFile(path, []byte("include = [\"default\"]\n[filesystem]\nwrite = [\"${HOME}\"]\n"), 0o600)
		_, stderr, rc := mcpcellIn(t, project, home, nil, append([]string{"trust", "--yes", "--profile", path}, attack...)...)
		want := fmt.Sprintf("mcpcell: error: %s:3: the write grant on %s holds mcpcell's own folder %s", path, home, filepath.Join(home, ".local/state/mcpcell"))
		if rc != exitFailed || !strings.Contains(stderr, want) {
			t.Errorf("exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
		}
		_, stderr, rc = mcpcellIn(t, project, home, nil, "check", "--profile", path)
		if rc == 0 || !strings.Contains(stderr, want) {
			t.Errorf("check: exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
		}
	})
	// Attack (review 11, D): with XDG_* moved out of the home folder, a
	// grant over the default folders under it (~/.local/state/mcpcell
	// and the rest) would let the cell forge the trust records that a
	// client run without those variables honours. They are mcpcell's own
	// whatever this environment says.
	xdg := t.TempDir()
	moved := []string{"XDG_STATE_HOME=" + filepath.Join(xdg, "state"), "XDG_CACHE_HOME=" + filepath.Join(xdg, "cache"), "XDG_CONFIG_HOME=" + filepath.Join(xdg, "config")}
	for _, tc := range []struct{ grant, want string }{
		{"${HOME}", "the write grant on " + home + " holds mcpcell's own folder " + filepath.Join(home, ".local/state/mcpcell")},
		{"${HOME}/.local", "the write grant on " + filepath.Join(home, ".local") + " holds mcpcell's own folder " + filepath.Join(home, ".local/state/mcpcell")},
		{"${HOME}/.config", "the write grant on " + filepath.Join(home, ".config") + " holds mcpcell's own folder " + filepath.Join(home, ".config/mcpcell")},
		{"${HOME}/.cache", "the write grant on " + filepath.Join(home, ".cache") + " holds mcpcell's own folder " + filepath.Join(home, ".cache/mcpcell")},
		{"${HOME}/.local/state/mcpcell/audit", "the write grant on " + filepath.Join(home, ".local/state/mcpcell/audit") + " lies in mcpcell's own folder " + filepath.Join(home, ".local/state/mcpcell")},
	} {
		t.Run("XDG moved out, write on "+tc.grant, func(t *testing.T) {
			path := filepath.Join(project, "home.toml")
			os.WriteFile(path, []byte("include = [\"default\"]\n[filesystem]\nwrite = [\""+tc.grant+"\"]\n"), 0o600)
			want := fmt.Sprintf("mcpcell: error: %s:3: %s", path, tc.want)
			_, stderr, rc := mcpcellIn(t, project, home, moved, append([]string{"trust", "--yes", "--profile", path}, attack...)...)
			if rc != exitFailed || !strings.Contains(stderr, want) {
				t.Errorf("trust: exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
			}
			// run refuses it of itself, even were it trusted.
			_, stderr, rc = mcpcellIn(t, project, home, append(moved, noTrustEnv+"=1"), append([]string{"run", "--profile", path}, attack...)...)
			if rc != exitFailed || strings.Contains(stderr, "WROTE") || !strings.Contains(stderr, want) {
				t.Errorf("run: exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
			}
		})
	}
	t.Run("control: a narrower grant in ${HOME} runs", func(t *testing.T) {
		os.MkdirAll(filepath.Join(home, "work"), 0o700)
		path := filepath.Join(project, "home.toml")
		os.WriteFile(path, []byte("include = [\"default\"]\n[filesystem]\nwrite = [\"${HOME}/work\"]\n"), 0o600)
		stderr, rc := cellRun(t, project, home, moved, append([]string{"--profile", path}, attack...)...)
		if rc != 0 || !strings.Contains(stderr, "WROTE") {
			t.Errorf("exit %d; stderr:\n%s", rc, stderr)
		}
	})
}
