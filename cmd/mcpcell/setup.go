package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// appArmor is where `mcpcell setup apparmor` looks and writes. Its zero
// value is the machine's: /etc/apparmor.d, os.Executable, apparmor_parser
// from PATH, and the temporary and Go build folders of mcpcell's
// environment. Tests set their own.
type appArmor struct {
	dir        string                       // the AppArmor profiles folder
	executable func() (string, error)       // mcpcell's own path
	lookPath   func(string) (string, error) // finds apparmor_parser
	// buildDirs are folders where a binary is a build's (go run, go
	// test), not an install's: a profile that attaches there would
	// attach to whatever is built there next.
	buildDirs []string
}

// appArmorProfile is the profile's name and file name in the folder.
const appArmorProfile = "mcpcell"

// setup runs `mcpcell setup apparmor [--write]`.
func (c *cli) setup(args []string) int {
	if len(args) == 0 || args[0] != "apparmor" {
		if len(args) == 0 {
			return c.usage2(errors.New("setup: name what to set up: mcpcell setup apparmor"))
		}
		return c.usage2(fmt.Errorf("setup: unknown %q: mcpcell setup apparmor is the one there is", args[0]))
	}
	flags := flag.NewFlagSet("setup apparmor", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	write := flags.Bool("write", false, "write the profile and load it")
	if err := flags.Parse(args[1:]); err != nil || flags.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("setup apparmor: unexpected argument %q", flags.Arg(0))
		}
		return c.usage2(err)
	}
	a := c.appArmorDefaults()
	exe, err := a.executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return c.fail(fmt.Errorf("setup apparmor: finding mcpcell's own path: %w", err), "")
	}
	if err := a.attachable(exe); err != nil {
		return c.fail(err, "install mcpcell (go install, or copy the binary to /usr/local/bin), then run setup apparmor from there")
	}
	text := appArmorText(exe)
	if !*write {
		fmt.Fprint(c.stdout, text)
		c.hintf("the profile lets %s make a cell's own network namespace where kernel.apparmor_restrict_unprivileged_userns=1 forbids it; write it to %s and load it with: sudo %s setup apparmor --write", exe, filepath.Join(a.dir, appArmorProfile), exe)
		return 0
	}
	// The userns rule came with AppArmor 4.0, and so did the restriction
	// it lifts: an AppArmor without it has no restriction to lift.
	if _, err := os.Stat(a.dir); err != nil {
		return c.fail(fmt.Errorf("setup apparmor: this machine has no AppArmor (%v)", err), "without AppArmor nothing restricts user namespaces this way, and mcpcell needs no profile; if run still cannot make the namespace, its error names the cause")
	}
	if _, err := os.Stat(filepath.Join(a.dir, "abi", "4.0")); err != nil {
		return c.fail(fmt.Errorf("setup apparmor: this AppArmor has no abi 4.0 (%v): it predates the userns rule and the restriction the profile lifts", err), "mcpcell needs no profile here")
	}
	path := filepath.Join(a.dir, appArmorProfile)
	if err := writeAtomic(path, []byte(text), 0o644); err != nil {
		hint := ""
		if errors.Is(err, fs.ErrPermission) {
			hint = "run it as root: sudo " + exe + " setup apparmor --write"
		}
		return c.fail(fmt.Errorf("setup apparmor: writing %s: %w", path, err), hint)
	}
	fmt.Fprintf(c.stderr, "mcpcell: wrote %s, the AppArmor profile of %s\n", path, exe)
	parser, err := a.lookPath("apparmor_parser")
	if err != nil {
		c.hintf("apparmor_parser is not installed here: load the profile with apparmor_parser -r %s, or restart AppArmor", path)
		return 0
	}
	if out, err := exec.Command(parser, "-r", path).CombinedOutput(); err != nil {
		return c.fail(fmt.Errorf("setup apparmor: %s -r %s: %v: %s", parser, path, err, strings.TrimSpace(string(out))), "the profile is written but not loaded; fix what apparmor_parser says, then run it again")
	}
	fmt.Fprintf(c.stderr, "mcpcell: loaded it: %s -r %s\n", parser, path)
	return 0
}

// appArmorDefaults is c's appArmor with each unset field the machine's.
func (c *cli) appArmorDefaults() appArmor {
	a := c.apparmor
	if a.dir == "" {
		a.dir = "/etc/apparmor.d"
	}
	if a.executable == nil {
		a.executable = os.Executable
	}
	if a.lookPath == nil {
		a.lookPath = exec.LookPath
	}
	if a.buildDirs == nil {
		a.buildDirs = c.buildDirs()
	}
	return a
}

// buildDirs are the temporary and Go build folders of mcpcell's
// environment (see buildFolder), or a test binary's own list.
func (c *cli) buildDirs() []string {
	if c.tempDirs != nil {
		return c.tempDirs
	}
	// XDG_RUNTIME_DIR (/run/user/UID) is a tmpfs emptied at logout.
	dirs := []string{"/tmp", "/var/tmp", "/dev/shm", "/run/user", c.getenv("XDG_RUNTIME_DIR"), c.getenv("TMPDIR"), c.getenv("GOTMPDIR"), c.getenv("GOCACHE")}
	if home := c.getenv("HOME"); home != "" {
		dirs = append(dirs, filepath.Join(c.getenvOr("XDG_CACHE_HOME", filepath.Join(home, ".cache")), "go-build"),
			filepath.Join(home, "Library", "Caches", "go-build")) // macOS's
	}
	return dirs
}

// buildFolder is the temporary or Go build folder exe lies in ("" for
// none): one of dirs (symlinks resolved), or a Go work folder anywhere
// (go run and go test build in go-build followed by digits, under
// GOTMPDIR; /opt/go-builds is no such folder). A binary there is a
// build's, not an install's: the next build or a cleanup replaces or
// removes it, and whatever names its path then names something else.
func buildFolder(exe string, dirs []string) string {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if r, err := filepath.EvalSymlinks(d); err == nil {
			d = r
		}
		if within(exe, filepath.Clean(d)) {
			return filepath.Clean(d)
		}
	}
	parts := strings.Split(exe, "/")
	if i := slices.IndexFunc(parts, goWorkFolder); i >= 0 {
		return strings.Join(parts[:i+1], "/")
	}
	return sourceTree(filepath.Dir(exe))
}

// sourceTree is the clone of mcpcell's source that holds dir ("" when
// none): a binary built there (go build -o mcpcell) is replaced by the
// next build of whatever the clone holds then.
func sourceTree(dir string) string {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && modulePath(b) == "github.com/mcpcell/mcpcell" {
			return d
		}
		if d == "/" || d == "." {
			return ""
		}
	}
}

// modulePath is the module a go.mod declares.
func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// goWorkFolder reports whether name is a Go work folder's: os.MkdirTemp's
// "go-build" and its random digits.
func goWorkFolder(name string) bool {
	digits, ok := strings.CutPrefix(name, "go-build")
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

// attachable refuses a path the profile must not attach to: a build's
// binary, or a path AppArmor would read as a pattern.
func (a appArmor) attachable(exe string) error {
	if !filepath.IsAbs(exe) {
		return fmt.Errorf("setup apparmor: mcpcell's path %s is not absolute", exe)
	}
	if strings.ContainsAny(exe, "*?[]{}^\"\\@") || strings.ContainsFunc(exe, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("setup apparmor: mcpcell's path %q has a character AppArmor reads as a pattern: the profile would attach to more than mcpcell", exe)
	}
	if d := buildFolder(exe, a.buildDirs); d != "" {
		return fmt.Errorf("setup apparmor: mcpcell runs from %s, in the temporary or build folder %s: the profile attaches by path, and would attach to whatever is built there next", exe, d)
	}
	return nil
}

// appArmorText is the profile for the mcpcell binary at exe: unconfined
// but for the userns rule, the pattern Ubuntu ships for programs that
// make namespaces (rootlesskit, opam). mcpcell confines its servers
// itself, dropping every capability before they run.
func appArmorText(exe string) string {
	attach := exe
	if strings.ContainsAny(exe, " \t") {
		attach = `"` + exe + `"`
	}
	return `# ` + appArmorProfile + `: written by mcpcell setup apparmor.
# Lets mcpcell make the user and network namespace of a cell with
# [network] hosts where kernel.apparmor_restrict_unprivileged_userns=1
# forbids it to unconfined programs. It confines nothing: mcpcell, and
# every process it starts, stays AppArmor-unconfined, as before the
# restriction; mcpcell confines its servers itself. It attaches by path:
# run setup apparmor again when mcpcell moves.
abi <abi/4.0>,
include <tunables/global>

profile ` + appArmorProfile + ` ` + attach + ` flags=(unconfined) {
  userns,

  # Site-specific additions.
  include if exists <local/` + appArmorProfile + `>
}
`
}
