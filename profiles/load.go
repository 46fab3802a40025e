package profiles

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/mcpcell/mcpcell/internal/audit"
)

//go:embed presets/*.toml
var presets embed.FS

// DefaultName is the embedded profile used when none is found.
const DefaultName = "default"

// FileName is the profile file discovery looks for.
const FileName = ".mcpcell.toml"

// Presets lists the names of the embedded presets.
func Presets() []string {
	ents, _ := fs.ReadDir(presets, "presets")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".toml"))
	}
	return out
}

// PresetSource returns the text of an embedded preset.
func PresetSource(name string) ([]byte, bool) {
	b, err := presets.ReadFile("presets/" + name + ".toml")
	return b, err == nil
}

// Source is where a setting was written.
type Source struct {
	File string // a path, or "preset:NAME"
	Line int    // 0 when unknown
}

func (s Source) String() string {
	if s.Line == 0 {
		return s.File
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// Entry is one list item with the place that wrote it.
type Entry struct {
	Value string
	From  Source
}

// Error is a problem in a profile, at a place in a file.
type Error struct {
	At  Source
	Msg string
}

func (e *Error) Error() string { return e.At.String() + ": " + e.Msg }

// Options say where to look for a profile and how to expand variables.
type Options struct {
	Profile string // --profile: a path or a preset name; "" means discover
	Project string // --project; "" means the profile's folder (or Cwd)
	Cwd     string
	Getenv  func(string) string
	// AnyProject accepts a working folder Load would refuse as a project:
	// for callers that start no server (reading the audit log).
	AnyProject bool
	// Verify, when set, is given each profile file's bytes before they
	// are parsed, the top file first: an error stops Load, so the
	// includes of a file it refuses are never read. p is the profile
	// being loaded, with Origin, Project and Vars set.
	Verify func(p *Profile, path string, data []byte) error
}

// Profile is the effective profile: every file and preset merged, every
// variable expanded.
type Profile struct {
	Name        string // for the audit log's file name
	Cell        string // the profile and project: names the cell's own ${CACHE}
	Origin      Source // where the top file came from
	Project     string
	ProjectFrom string // how the project was chosen: ProjectFlag, ProjectProfile or ProjectCwd
	Vars        map[string]string

	Command []string
	Cwd     string

	Read, Write, Exec, Optional []Entry
	Hosts                       []Entry
	Ports, Bind                 []Entry
	UDP, Unix                   bool
	EnvPass                     []Entry
	EnvSet                      map[string]Entry
	Secrets                     map[string]SecretRef

	Tools     Rules
	ToolArgs  map[string]ArgRules // by [tools.args] key, a glob of tool names
	Resources Rules
	Prompts   Rules
	// Unpinned is where [tools] pin = false was written (zero while the
	// tool surface is pinned, the default).
	Unpinned Source

	Sampling, Elicitation, Roots bool
	ClientNames                  []string

	MaxFrame  int
	AuditPath string
	// The audit log rotates at AuditMaxSize bytes and keeps AuditKeep
	// rotated files.
	AuditMaxSize int64
	AuditKeep    int
	BestEffort   bool
	Required     bool
	// MaxProcesses caps the cell's processes, each thread counted;
	// MaxProcessesFrom is where it was set (zero for the default).
	MaxProcesses     int
	MaxProcessesFrom Source

	Includes []Source // every file and preset read, in order
}

// The cell's process cap: the default, and the least a profile may set.
const (
	DefaultMaxProcesses = 512
	MinMaxProcesses     = 16
)

// Rules is an allow/deny list of globs with their sources.
type Rules struct {
	Allow, Deny []Entry
	AllowSet    bool // an allow list was written: absent allows everything
}

// SecretRef names a keyring item.
type SecretRef struct {
	Service, User string
	From          Source
}

// How a profile's project was chosen.
const (
	ProjectFlag    = "--project"
	ProjectProfile = "the profile's folder"
	ProjectCwd     = "the working folder"
)

// UnsafeProjectError is the refusal to give a home or system folder as
// its project to an embedded profile: only a profile file the user wrote
// grants such a folder.
type UnsafeProjectError struct {
	Project string
	From    string // ProjectFlag or ProjectCwd
	Why     string // "the root folder", "your home folder", …
}

func (e *UnsafeProjectError) Error() string {
	if e.From == ProjectFlag {
		return fmt.Sprintf("the project %s (--project) is %s, and no profile file grants it: the embedded profile would give the server all of it", e.Project, e.Why)
	}
	return fmt.Sprintf("no profile file names a project, and the working folder %s is %s: the server would get %s as its project", e.Project, e.Why, e.Project)
}

// systemTrees are folders no project lies in or beneath, but for the
// subtrees of systemHomes.
var systemTrees = []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/usr", "/var", "/System", "/Library", "/private/etc", "/private/var"}

// systemHomes are folders inside systemTrees whose subfolders may be
// projects (/var/www/site is a project; /var/www, in /var, is not).
var systemHomes = []string{"/var/www", "/var/home", "/var/tmp", "/var/srv"}

// systemFolders hold projects, but are none themselves.
var systemFolders = []string{"/home", "/media", "/mnt", "/nix", "/opt", "/root", "/snap", "/srv", "/tmp", "/Users", "/Volumes", "/Applications", "/private", "/private/tmp"}

// Homes lists the user's home folders: $HOME as mcpcell got it, and the
// one the user database names (a client may set HOME to something else).
func (p *Profile) Homes() []string {
	homes := []string{p.Vars["HOME"]}
	if u, err := user.Current(); err == nil && u.HomeDir != "" && u.HomeDir != homes[0] {
		homes = append(homes, u.HomeDir)
	}
	return homes
}

// broadFolder says why dir is too broad to be a project nobody chose
// ("the root folder", "your home folder", …), or "" when it is not.
func broadFolder(dir string, homes ...string) string {
	real := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return filepath.Clean(p)
	}
	d := real(dir)
	if d == "/" || dir == "/" {
		return "the root folder"
	}
	for _, home := range homes {
		if home == "" || home == "/" {
			continue
		}
		for _, x := range []string{real(home), filepath.Clean(home)} {
			if d == x || dir == x {
				return "your home folder"
			}
			if strings.HasPrefix(x, d+"/") || strings.HasPrefix(x, filepath.Clean(dir)+"/") {
				return "a folder above your home folder"
			}
			// ~/.ssh, ~/.aws, ~/.config, ~/.local (mcpcell's own state
			// among them): credentials and tools' settings, no project.
			for _, y := range []string{d, filepath.Clean(dir)} {
				if rest, ok := strings.CutPrefix(y, x+"/"); ok && strings.HasPrefix(rest, ".") {
					top, _, _ := strings.Cut(rest, "/")
					return "in a hidden folder of your home folder (~/" + top + ")"
				}
			}
		}
	}
	for _, x := range []string{d, filepath.Clean(dir)} {
		inHome := false
		for _, h := range systemHomes {
			if strings.HasPrefix(x, h+"/") {
				inHome = true
			}
		}
		for _, s := range systemTrees {
			if !inHome && (x == s || strings.HasPrefix(x, s+"/")) {
				return "a system folder (" + s + ")"
			}
		}
		if slices.Contains(systemFolders, x) {
			return "a system folder"
		}
	}
	return ""
}

// OwnRoots are mcpcell's own folders: its state (audit logs, the trust
// store), its configuration, and the parent of every cell's cache; those
// of this environment (XDG_*) and the defaults under each home folder,
// which a client run without the XDG variables uses: a cell that could
// write those could forge the trust records that client honours.
func (p *Profile) OwnRoots() []string {
	roots := []string{p.Vars["STATE"], p.Vars["CONFIG"], filepath.Dir(filepath.Dir(p.Vars["CACHE"]))}
	for _, h := range p.Homes() {
		if h == "" || !filepath.IsAbs(h) {
			continue
		}
		for _, d := range []string{".local/state/mcpcell", ".config/mcpcell", ".cache/mcpcell"} {
			if r := filepath.Join(h, d); !slices.Contains(roots, r) {
				roots = append(roots, r)
			}
		}
	}
	return roots
}

// OwnFolder says how path meets one of mcpcell's own folders ("" when it
// does not): it is one, lies inside one, or holds one. Both sides are
// compared resolved (RealPath); a side that cannot be resolved counts as
// meeting it.
func (p *Profile) OwnFolder(path string) string {
	d, err := RealPath(path)
	if err != nil {
		return "a folder mcpcell cannot resolve (" + err.Error() + ") to tell whether it holds mcpcell's own folders"
	}
	for _, root := range p.OwnRoots() {
		r, err := RealPath(root)
		if err != nil {
			return "a folder mcpcell cannot tell apart from its own folder " + root + " (" + err.Error() + ")"
		}
		switch {
		case d == r || strings.HasPrefix(d, r+"/"):
			return "in mcpcell's own folder " + r
		case strings.HasPrefix(r, d+"/"):
			return "a folder that holds mcpcell's own " + r
		}
	}
	return ""
}

// BroadGrant says why a granted path is broader than a project should be,
// or "": the root folder, a home folder or above it, and for a write
// grant also a system folder.
func BroadGrant(path string, write bool, homes ...string) string {
	switch why := broadFolder(path, homes...); {
	case why == "the root folder", why == "your home folder", why == "a folder above your home folder":
		return why
	case why != "" && write:
		return why
	}
	return ""
}

// Load finds and reads the profile opts describe.
func Load(opts Options) (*Profile, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Cwd == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		opts.Cwd = wd
	}
	top, err := find(opts)
	if err != nil {
		return nil, err
	}
	p := &Profile{EnvSet: map[string]Entry{}, Secrets: map[string]SecretRef{}, ToolArgs: map[string]ArgRules{}}
	p.Origin = top.src
	project := opts.Project
	switch {
	case project != "":
		p.ProjectFrom = ProjectFlag
	case top.path != "":
		project = filepath.Dir(top.path)
		p.ProjectFrom = ProjectProfile
	default:
		project = opts.Cwd
		p.ProjectFrom = ProjectCwd
	}
	if !filepath.IsAbs(project) {
		project = filepath.Join(opts.Cwd, project)
	}
	p.Project = filepath.Clean(project)
	if top.path == "" {
		p.Name = top.preset
	} else {
		sum := sha256.Sum256([]byte(top.path))
		base := strings.TrimPrefix(strings.TrimSuffix(filepath.Base(top.path), ".toml"), ".")
		if base == "mcpcell" {
			base = filepath.Base(filepath.Dir(top.path))
		}
		p.Name = base + "-" + hex.EncodeToString(sum[:4])
	}
	// Each profile and project has a cache of its own (npm's, pip's, the
	// TMPDIR): one cell cannot plant code in a cache another cell runs.
	sum := sha256.Sum256([]byte(p.Project))
	p.Cell = p.Name + "-" + hex.EncodeToString(sum[:4])
	p.Vars = vars(p.Project, p.Cell, opts.Getenv)
	// No profile file grants this project: the embedded profile would
	// grant it as if the user had written so. Never a home or system
	// folder, nor one of mcpcell's own, whether it is the working folder
	// or --project.
	if top.path == "" && !opts.AnyProject {
		why := broadFolder(p.Project, p.Homes()...)
		if why == "" {
			why = p.OwnFolder(p.Project)
		}
		if why != "" {
			return nil, &UnsafeProjectError{Project: p.Project, From: p.ProjectFrom, Why: why}
		}
	}
	if err := p.merge(top, nil, opts.Verify); err != nil {
		return nil, err
	}
	if p.MaxFrame == 0 {
		p.MaxFrame = 16 << 20
	}
	if p.MaxProcesses == 0 {
		p.MaxProcesses = DefaultMaxProcesses
	}
	if p.AuditPath == "" {
		p.AuditPath = filepath.Join(p.Vars["STATE"], "audit", p.Name+".jsonl")
	}
	if p.AuditMaxSize == 0 {
		p.AuditMaxSize = audit.DefaultMaxSize
	}
	if p.AuditKeep == 0 {
		p.AuditKeep = audit.DefaultKeep
	}
	if p.Cwd == "" {
		p.Cwd = p.Project
	}
	return p, nil
}

// unit is one file or preset to read.
type unit struct {
	src    Source
	path   string // absolute path of a file, or ""
	preset string // preset name, or ""
	data   []byte
}

func find(opts Options) (unit, error) {
	if opts.Profile != "" {
		if isPath(opts.Profile) {
			path := opts.Profile
			if !filepath.IsAbs(path) {
				path = filepath.Join(opts.Cwd, path)
			}
			return readFile(filepath.Clean(path))
		}
		return readPreset(opts.Profile, Source{File: "--profile"})
	}
	dir := opts.Project
	if dir == "" {
		dir = opts.Cwd
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(opts.Cwd, dir)
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		path := filepath.Join(d, FileName)
		if _, err := os.Stat(path); err == nil {
			return readFile(path)
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return readPreset(DefaultName, Source{})
}

func isPath(s string) bool {
	return strings.ContainsRune(s, '/') || strings.ContainsRune(s, filepath.Separator) || strings.HasSuffix(s, ".toml")
}

// MaxFileSize is the largest profile file Load reads.
const MaxFileSize = 1 << 20

// readFile reads a profile file: a regular file of at most MaxFileSize
// bytes. It never blocks on a FIFO or reads a device without end.
func readFile(path string) (unit, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return unit{}, fmt.Errorf("reading profile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return unit{}, fmt.Errorf("reading profile: %w", err)
	}
	if !st.Mode().IsRegular() {
		return unit{}, fmt.Errorf("reading profile: %s is not a regular file (%s)", path, kindOf(st.Mode()))
	}
	if st.Size() > MaxFileSize {
		return unit{}, fmt.Errorf("reading profile: %s is larger than %d bytes", path, MaxFileSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return unit{}, fmt.Errorf("reading profile: %w", err)
	}
	if len(b) > MaxFileSize {
		return unit{}, fmt.Errorf("reading profile: %s is larger than %d bytes", path, MaxFileSize)
	}
	return unit{src: Source{File: path}, path: path, data: b}, nil
}

// kindOf names a file type that is not a regular file.
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

func readPreset(name string, from Source) (unit, error) {
	b, ok := PresetSource(name)
	if !ok {
		msg := fmt.Sprintf("no preset named %q (presets: %s)", name, strings.Join(Presets(), ", "))
		if from.File == "" || from.File == "--profile" {
			return unit{}, errors.New(msg)
		}
		return unit{}, &Error{At: from, Msg: msg}
	}
	return unit{src: Source{File: "preset:" + name}, preset: name, data: b}, nil
}

func vars(project, cell string, getenv func(string) string) map[string]string {
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	xdg := func(env, fallback string) string {
		if v := getenv(env); filepath.IsAbs(v) {
			return filepath.Join(v, "mcpcell")
		}
		return filepath.Join(home, fallback, "mcpcell")
	}
	tmp := getenv("TMPDIR")
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	return map[string]string{
		"PROJECT": project,
		"HOME":    home,
		"CACHE":   filepath.Join(xdg("XDG_CACHE_HOME", ".cache"), "cells", cell),
		"CONFIG":  xdg("XDG_CONFIG_HOME", ".config"),
		"STATE":   xdg("XDG_STATE_HOME", filepath.Join(".local", "state")),
		"TMP":     tmp,
	}
}

// merge reads u, its includes first, into p. stack holds the units being
// read, to find cycles.
func (p *Profile) merge(u unit, stack []string, verify func(*Profile, string, []byte) error) error {
	id := u.src.File
	if slices.Contains(stack, id) {
		return &Error{At: u.src, Msg: "include cycle: " + strings.Join(append(stack, id), " -> ")}
	}
	if slices.Contains(p.Includes, u.src) {
		return nil // already merged through another include
	}
	stack = append(stack, id)
	if verify != nil && u.path != "" {
		if err := verify(p, u.path, u.data); err != nil {
			return err
		}
	}
	var f File
	md, err := toml.Decode(string(u.data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.LastKey != "" {
				msg = pe.LastKey + ": " + msg
			}
			return &Error{At: Source{File: u.src.File, Line: pe.Position.Line}, Msg: msg}
		}
		return typeError(u.src, err)
	}
	lines := keyLines(u.data)
	at := func(key string) Source { return Source{File: u.src.File, Line: lineOf(lines, key)} }
	if und := md.Undecoded(); len(und) > 0 {
		var errs []error
		for _, k := range und {
			if strings.HasPrefix(k.String(), "secrets.") && len(k) > 2 {
				continue // the table form of a secret reference
			}
			if strings.HasPrefix(k.String(), "tools.args.") && len(k) > 4 {
				errs = append(errs, &Error{At: at(dotted(k...)), Msg: fmt.Sprintf("unknown key %q (argument constraints are within, match, enum and max_len)", k[len(k)-1])})
				continue
			}
			errs = append(errs, &Error{At: at(dotted(k...)), Msg: fmt.Sprintf("unknown key %q", k.String())})
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	if err := expandAll(reflect.ValueOf(&f).Elem(), "", p.Vars, at); err != nil {
		return err
	}
	for _, inc := range f.Include {
		var next unit
		var err error
		if isPath(inc) {
			path := inc
			if !filepath.IsAbs(path) {
				if u.path == "" {
					return &Error{At: at("include"), Msg: fmt.Sprintf("a preset cannot include the relative path %q", inc)}
				}
				path = filepath.Join(filepath.Dir(u.path), path)
			}
			next, err = readFile(filepath.Clean(path))
			if err != nil {
				return &Error{At: at("include"), Msg: err.Error()}
			}
		} else if next, err = readPreset(inc, at("include")); err != nil {
			return err
		}
		if err := p.merge(next, stack, verify); err != nil {
			return err
		}
	}
	p.Includes = append(p.Includes, u.src)
	return p.apply(&f, at)
}

// apply adds one file's settings: lists append, scalars and map keys set
// later win.
func (p *Profile) apply(f *File, at func(string) Source) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{At: at(key), Msg: key + ": " + fmt.Sprintf(format, args...)})
	}
	add := func(dst *[]Entry, key string, vals []string) {
		for _, v := range vals {
			*dst = append(*dst, Entry{Value: v, From: at(key)})
		}
	}
	if len(f.Server.Command) > 0 {
		p.Command = f.Server.Command
	}
	if f.Server.Cwd != "" {
		p.Cwd = f.Server.Cwd
	}
	for key, list := range map[string][]string{"filesystem.read": f.Filesystem.Read, "filesystem.write": f.Filesystem.Write, "filesystem.exec": f.Filesystem.Exec, "filesystem.optional": f.Filesystem.Optional} {
		for _, v := range list {
			if !filepath.IsAbs(v) {
				bad(key, "%q is not an absolute path (use ${PROJECT}/…)", v)
			}
		}
	}
	add(&p.Read, "filesystem.read", f.Filesystem.Read)
	add(&p.Write, "filesystem.write", f.Filesystem.Write)
	add(&p.Exec, "filesystem.exec", f.Filesystem.Exec)
	add(&p.Optional, "filesystem.optional", f.Filesystem.Optional)
	add(&p.Hosts, "network.hosts", f.Network.Hosts)
	for key, ports := range map[string][]int{"network.ports": f.Network.Ports, "network.bind": f.Network.Bind} {
		dst := &p.Ports
		if key == "network.bind" {
			dst = &p.Bind
		}
		for _, n := range ports {
			if n < 1 || n > 65535 {
				bad(key, "port %d is outside 1–65535", n)
				continue
			}
			*dst = append(*dst, Entry{Value: fmt.Sprint(n), From: at(key)})
		}
	}
	if f.Network.UDP != nil {
		p.UDP = *f.Network.UDP
	}
	if f.Network.Unix != nil {
		p.Unix = *f.Network.Unix
	}
	for _, n := range f.Env.Pass {
		if !envName().MatchString(n) {
			bad("env.pass", "%q is not an environment variable name", n)
		}
	}
	add(&p.EnvPass, "env.pass", f.Env.Pass)
	for _, k := range sortedKeys(f.Env.Set) {
		if !envName().MatchString(k) {
			bad("env.set", "%q is not an environment variable name", k)
		}
		p.EnvSet[k] = Entry{Value: f.Env.Set[k], From: at("env.set." + k)}
	}
	for _, k := range sortedKeys(f.Secrets) {
		key := "secrets." + k
		if !envName().MatchString(k) {
			bad(key, "%q is not an environment variable name", k)
			continue
		}
		switch v := f.Secrets[k].(type) {
		case string:
			if v == "" {
				bad(key, "empty keyring item name")
				continue
			}
			p.Secrets[k] = SecretRef{Service: "mcpcell", User: v, From: at(key)}
		case map[string]any:
			svc, _ := v["service"].(string)
			user, _ := v["user"].(string)
			if svc == "" || user == "" || len(v) != 2 {
				bad(key, `a keyring reference is "item" or { service = "…", user = "…" }`)
				continue
			}
			p.Secrets[k] = SecretRef{Service: svc, User: user, From: at(key)}
		default:
			bad(key, `a keyring reference is "item" or { service = "…", user = "…" }`)
		}
	}
	for _, r := range []struct {
		key   string
		dst   *Rules
		allow []string
		deny  []string
		uri   bool
	}{
		{"tools", &p.Tools, f.Tools.Allow, f.Tools.Deny, false},
		{"resources", &p.Resources, f.Resources.Allow, f.Resources.Deny, true},
		{"prompts", &p.Prompts, f.Prompts.Allow, f.Prompts.Deny, false},
	} {
		for verb, globs := range map[string][]string{"allow": r.allow, "deny": r.deny} {
			for _, g := range globs {
				if _, err := compileGlob(g, r.uri); err != nil {
					bad(r.key+"."+verb, "%v", err)
				}
			}
		}
		if r.allow != nil {
			r.dst.AllowSet = true
		}
		add(&r.dst.Allow, r.key+".allow", r.allow)
		add(&r.dst.Deny, r.key+".deny", r.deny)
	}
	for _, tool := range sortedKeys(f.Tools.Args) {
		// Messages name keys as TOML writes them: tools.args."read_*".path.
		key := dotted("tools", "args", tool)
		if _, err := compileGlob(tool, false); err != nil {
			errs = append(errs, &Error{At: at(key), Msg: key + ": " + err.Error()})
			continue
		}
		set, ok := p.ToolArgs[tool]
		if !ok {
			set = ArgRules{Args: map[string]ArgRule{}}
		}
		set.From = at(key)
		for _, arg := range sortedKeys(f.Tools.Args[tool]) {
			rule := f.Tools.Args[tool][arg]
			argKey := key + "." + tomlKey(arg)
			if err := checkArgRule(rule); err != nil {
				errs = append(errs, &Error{At: at(argKey), Msg: argKey + ": " + err.Error()})
				continue
			}
			rule.From = at(argKey)
			set.Args[arg] = rule
		}
		p.ToolArgs[tool] = set
	}
	if pin := f.Tools.Pin; pin != nil {
		p.Unpinned = Source{}
		if !*pin {
			p.Unpinned = at("tools.pin")
		}
	}
	for _, c := range []struct {
		v   *bool
		dst *bool
	}{{f.Client.Sampling, &p.Sampling}, {f.Client.Elicitation, &p.Elicitation}, {f.Client.Roots, &p.Roots}} {
		if c.v != nil {
			*c.dst = *c.v
		}
	}
	for _, n := range f.Client.Names {
		if n == "" {
			bad("client.names", "empty client name")
		}
	}
	p.ClientNames = append(p.ClientNames, f.Client.Names...)
	if f.Limits.MaxFrame != 0 {
		if f.Limits.MaxFrame < 1024 || f.Limits.MaxFrame > 1<<30 {
			bad("limits.max_frame", "%d is outside 1024 bytes to 1 GiB", f.Limits.MaxFrame)
		}
		p.MaxFrame = f.Limits.MaxFrame
	}
	if f.Audit.Path != "" {
		if !filepath.IsAbs(f.Audit.Path) {
			bad("audit.path", "%q is not an absolute path", f.Audit.Path)
		}
		p.AuditPath = f.Audit.Path
	}
	if f.Audit.MaxSize != nil {
		if n, err := byteSize(f.Audit.MaxSize); err != nil {
			bad("audit.max_size", "%v", err)
		} else if n < audit.MinMaxSize || n > maxAuditSize {
			bad("audit.max_size", "%s is outside 64KiB to 1TiB", humanBytes(f.Audit.MaxSize))
		} else {
			p.AuditMaxSize = n
		}
	}
	if f.Audit.Keep != nil {
		if k := *f.Audit.Keep; k < 1 || k > 1000 {
			bad("audit.keep", "%d is outside 1 to 1000 (the rotated files kept besides the current one)", k)
		} else {
			p.AuditKeep = k
		}
	}
	if f.Sandbox.BestEffort != nil {
		p.BestEffort = *f.Sandbox.BestEffort
	}
	if f.Sandbox.Required != nil {
		p.Required = *f.Sandbox.Required
	}
	if n := f.Sandbox.MaxProcesses; n != nil {
		// A server needs a few threads of its own (node starts 7); the
		// top is the kernel's own limit on pids.
		if *n < MinMaxProcesses || *n > 1<<22 {
			bad("sandbox.max_processes", "%d is outside %d to %d", *n, MinMaxProcesses, 1<<22)
		} else {
			p.MaxProcesses, p.MaxProcessesFrom = *n, at("sandbox.max_processes")
		}
	}
	return errors.Join(errs...)
}

// maxAuditSize is the largest [audit] max_size.
const maxAuditSize = 1 << 40

// byteSize reads a size: a whole number of bytes, or a string of one with
// a unit, binary (KiB, MiB, GiB, TiB) or decimal (kB, MB, GB, TB).
func byteSize(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case string:
		m := sizeText().FindStringSubmatch(v)
		if m == nil {
			return 0, fmt.Errorf("%q is not a size: write bytes (65536) or a number and a unit, as \"64MiB\" (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)", v)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		unit := sizeUnits[strings.ToLower(m[2])]
		if err != nil || n > maxAuditSize/unit {
			return 0, fmt.Errorf("%q is outside 64KiB to 1TiB", v)
		}
		return n * unit, nil
	}
	return 0, fmt.Errorf("wrong type: want a whole number of bytes or a string such as \"64MiB\", got %s", tomlTypeName(v))
}

var (
	sizeText  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*([0-9]+)\s*((?i:[kmgt]i?b|b)?)\s*$`) })
	sizeUnits = map[string]int64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
)

// humanBytes writes a size as the profile did.
func humanBytes(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// tomlTypeName names the type of a decoded TOML value.
func tomlTypeName(v any) string {
	switch v.(type) {
	case float64:
		return "a number"
	case bool:
		return "true or false"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

// The TOML library reports type mismatches as plain text.
var (
	tomlTypeErr = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)
	})
	tomlTypes = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`incompatible types: TOML value has type (\w+); destination has type (\w+)`)
	})
	typeNames = map[string]string{"slice": "a list", "array": "a list", "bool": "true or false", "boolean": "true or false", "int": "a whole number", "int64": "a whole number", "string": "a string", "struct": "a table", "map": "a table", "table": "a table", "integer": "a whole number", "float": "a number", "interface": "a value"}
)

func typeError(src Source, err error) error {
	m := tomlTypeErr().FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{At: src, Msg: err.Error()}
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[3]
	if t := tomlTypes().FindStringSubmatch(msg); t != nil {
		want, got := typeNames[t[2]], typeNames[t[1]]
		if want == "" {
			want = t[2]
		}
		if got == "" {
			got = t[1]
		}
		msg = "wrong type: want " + want + ", got " + got
	}
	return &Error{At: Source{File: src.File, Line: line}, Msg: m[2] + ": " + msg}
}

var envName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var varRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([^}]*)\}`) })

// expandAll expands ${VAR} in every string of v; key is v's TOML key.
func expandAll(v reflect.Value, key string, vars map[string]string, at func(string) Source) error {
	switch v.Kind() {
	case reflect.String:
		out, err := expand(v.String(), vars)
		if err != nil {
			return &Error{At: at(key), Msg: key + ": " + err.Error()}
		}
		v.SetString(out)
	case reflect.Struct:
		var errs []error
		for i := 0; i < v.NumField(); i++ {
			name := strings.Split(v.Type().Field(i).Tag.Get("toml"), ",")[0]
			if name == "" {
				name = strings.ToLower(v.Type().Field(i).Name)
			}
			errs = append(errs, expandAll(v.Field(i), join(key, name), vars, at))
		}
		return errors.Join(errs...)
	case reflect.Slice:
		var errs []error
		for i := 0; i < v.Len(); i++ {
			errs = append(errs, expandAll(v.Index(i), key, vars, at))
		}
		return errors.Join(errs...)
	case reflect.Map:
		var errs []error
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			errs = append(errs, expandAll(e, join(key, tomlKey(k.String())), vars, at))
			v.SetMapIndex(k, e)
		}
		return errors.Join(errs...)
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		e := reflect.New(v.Elem().Type()).Elem()
		e.Set(v.Elem())
		if err := expandAll(e, key, vars, at); err != nil {
			return err
		}
		v.Set(e)
	case reflect.Pointer:
		if !v.IsNil() {
			return expandAll(v.Elem(), key, vars, at)
		}
	}
	return nil
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

// expand replaces ${NAME} with its value; an unknown name is an error.
func expand(s string, vars map[string]string) (string, error) {
	var err error
	out := varRef().ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		if v, ok := vars[name]; ok {
			return v
		}
		if err == nil {
			if strings.HasPrefix(name, "secret:") {
				err = fmt.Errorf("%s: secrets are not placed in strings (every local user can read a command line); use [secrets] to put one in the environment", ref)
			} else {
				err = fmt.Errorf("unknown variable %s (known: %s)", ref, strings.Join(sortedKeys(vars), ", "))
			}
		}
		return ref
	})
	if err == nil && strings.Contains(varRef().ReplaceAllString(s, ""), "${") {
		err = fmt.Errorf("unterminated variable in %q", s)
	}
	return out, err
}
