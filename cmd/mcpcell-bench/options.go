package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

type options struct {
	mcpcell, srt, everything, out string
	short                         bool
	only                          *regexp.Regexp // scenarios to run; nil runs all
	self                          string
	dir                           string // temp: profiles, audit logs
}

// mode is one way to start a server.
type mode struct {
	name string
	argv func(server []string) []string
	env  []string
	// trust, when set, is run before a server command is started that
	// way: mcpcell runs a profile file only once trusted.
	trust func(server []string) error
}

func (o *options) modes(profile string) []mode {
	ms := []mode{
		{name: "direct", argv: func(s []string) []string { return s }},
		o.cell("mcpcell", profile),
	}
	if o.srt != "" {
		ms = append(ms, mode{name: "srt", argv: func(s []string) []string {
			return []string{o.srt, "-c", strings.Join(quoteAll(s), " ")}
		}})
	}
	return ms
}

// cell is the way through mcpcell run with profile.
func (o *options) cell(name, profile string) mode {
	m := mode{name: name, argv: func(s []string) []string {
		return append([]string{o.mcpcell, "run", "--profile", profile, "--"}, s...)
	}, env: []string{"XDG_STATE_HOME=" + filepath.Join(o.dir, "state"), "XDG_CACHE_HOME=" + filepath.Join(o.dir, "cache")}}
	var trusted sync.Map // the server command lines trusted so far
	m.trust = func(s []string) error {
		key := strings.Join(s, "\x00")
		if _, ok := trusted.Load(key); ok {
			return nil
		}
		cmd := exec.Command(o.mcpcell, append([]string{"trust", "--yes", "--profile", profile, "--"}, s...)...)
		cmd.Env = append(os.Environ(), m.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("mcpcell trust: %v: %s", err, out)
		}
		trusted.Store(key, true)
		return nil
	}
	return m
}

// hostsMode is the way through mcpcell run with the profile and
// [network] hosts = ["localhost:PORT"]: the cell's own network namespace,
// whose one way out is the relay to the harness's download server on
// 127.0.0.1:PORT (localhost, which /etc/hosts maps, is the only name a
// rule lets the relay dial on loopback).
func (o *options) hostsMode(profile string, port int) (mode, error) {
	text, err := os.ReadFile(profile)
	if err != nil {
		return mode{}, err
	}
	hosts := filepath.Join(filepath.Dir(profile), "hosts.toml")
	text = append(text, fmt.Sprintf("[network]\nhosts = [\"localhost:%d\"]\n", port)...)
	if err := os.WriteFile(hosts, text, 0o600); err != nil {
		return mode{}, err
	}
	return o.cell(hostsName, hosts), nil
}

// hostsName is the column of the way with [network] hosts.
const hostsName = "mcpcell, hosts"

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, a := range s {
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}

// find locates mcpcell, srt and server-everything, and names those
// missing (srt and server-everything leave rows out).
func (o *options) find() (missing []string, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	o.self = self
	if o.mcpcell, err = exec.LookPath(o.mcpcell); err != nil {
		return nil, fmt.Errorf("mcpcell: %w (build it and pass -mcpcell)", err)
	}
	if o.srt == "" {
		if p, err := filepath.Abs("testdata/node/node_modules/.bin/srt"); err == nil && exists(p) {
			o.srt = p
		}
	}
	if o.everything == "" {
		if p, err := filepath.Abs("testdata/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"); err == nil && exists(p) {
			o.everything = p
		}
	}
	// With MCPCELL_REQUIRE_ALL=1 (as in CI) a part that is missing is a
	// failure, not a row left out.
	if o.srt == "" {
		missing = append(missing, "srt (npm ci --prefix testdata/node)")
	}
	if o.everything == "" {
		missing = append(missing, "server-everything (npm ci --prefix testdata/node)")
	}
	return missing, nil
}

// writeProfile writes the benchmark's profile into a project folder of
// o.dir.
func (o *options) writeProfile() (project, profile string, err error) {
	// The profile's folder is the project, which the default grants for
	// writing: mcpcell's own folders (o.dir/state, o.dir/cache) lie beside
	// it, never in it.
	project = filepath.Join(o.dir, "project")
	if err := os.Mkdir(project, 0o700); err != nil {
		return "", "", err
	}
	profile = filepath.Join(project, "bench.toml")
	grants := []string{o.self}
	if o.everything != "" {
		// The server reads its dependencies: grant the node_modules it is in.
		nm := o.everything
		for filepath.Base(nm) != "node_modules" && nm != filepath.Dir(nm) {
			nm = filepath.Dir(nm)
		}
		grants = append(grants, nm)
	}
	os.WriteFile(profile, []byte(fmt.Sprintf("include = [\"default\"]\n[filesystem]\nread = %s\nexec = [%q]\n", tomlList(grants), o.self)), 0o600)
	return project, profile, nil
}

// relays are the floors of any relay, which run in every scenario after
// start-up.
func (o *options) relays() []mode {
	// A plain cat relay (cat | server | cat) is the physical limit of two
	// more pipes.
	relay := mode{name: "cat relay", argv: func(s []string) []string {
		return []string{"sh", "-c", "cat | " + strings.Join(quoteAll(s), " ") + " | cat"}
	}}
	// A relay in Go, io.Copy both ways in one process, is what mcpcell
	// would cost with no policy and no audit log.
	goRelay := mode{name: "Go relay", argv: func(s []string) []string {
		return append([]string{o.self, "relay"}, s...)
	}}
	return []mode{relay, goRelay}
}

// benchSecret stores a value for the one-secret start-up, through mcpcell
// secret set; false when no keyring answers.
func (o *options) benchSecret() (string, bool) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return "", false
	}
	item := fmt.Sprintf("mcpcell-bench-%d", os.Getpid())
	cmd := exec.Command(o.mcpcell, "secret", "set", item)
	cmd.Stdin = strings.NewReader("bench-secret-value-0123456789\n")
	return item, cmd.Run() == nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func tomlList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
