package profiles

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/mcpcell/mcpcell/internal/audit"
)

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
	// Hosts are the [network] hosts rules, each once, in the form
	// egress.Rule.String writes (CompileCell gives them as rules).
	Hosts       []Entry
	Ports, Bind []Entry
	UDP, Unix   bool
	udpFrom     Source // where udp was last set
	EnvPass     []Entry
	EnvSet      map[string]Entry
	Secrets     map[string]SecretRef

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
	if err := p.checkHosts(); err != nil {
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
			msg := syntaxMessage(pe)
			return &Error{At: Source{File: u.src.File, Line: syntaxLine(u.data, pe)}, Msg: msg}
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
	if err := controlInPaths(f.Filesystem, f.Server, at); err != nil {
		return err
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

// controlInPaths refuses a path of [filesystem], and [server] cwd and
// command, written with a control or bidi character: no folder needs
// one, and on a terminal it can show as other text, erase the line above
// (another grant) in check and trust, or start a line of its own
// ("mcpcell: hint: …") in run's errors. It checks the text as written: a
// variable's value, the project folder's name, comes from the file
// system, and what prints it escapes it.
func controlInPaths(fs Filesystem, srv Server, at func(string) Source) error {
	var errs []error
	for _, l := range []struct {
		key, what string
		vals      []string
	}{
		{"filesystem.read", "a granted path", fs.Read}, {"filesystem.write", "a granted path", fs.Write},
		{"filesystem.exec", "a granted path", fs.Exec}, {"filesystem.optional", "a granted path", fs.Optional},
		{"server.cwd", "the server's folder", []string{srv.Cwd}}, {"server.command", "a word of the server's command", srv.Command},
	} {
		for _, v := range l.vals {
			if i := strings.IndexFunc(v, controlRune); i >= 0 {
				r, _ := utf8.DecodeRuneInString(v[i:])
				errs = append(errs, &Error{At: at(l.key), Msg: fmt.Sprintf("%s: %q holds the character %U: %s may not hold control or bidi characters (a terminal would show the path as other text)", l.key, v, r, l.what)})
			}
		}
	}
	return errors.Join(errs...)
}

// controlRune reports whether r is a control character (C0, DEL, C1) or
// one that reorders text (bidi embeddings, overrides and isolates).
func controlRune(r rune) bool {
	return unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}
