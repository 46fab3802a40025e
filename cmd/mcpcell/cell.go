package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpcell/mcpcell/internal/egress"
	"github.com/mcpcell/mcpcell/profiles"
	"github.com/mcpcell/mcpcell/sandbox"
)

// cellPlan is the cell a profile compiles to (profiles.CompileCell),
// resolved on this machine: its folders, links and kernel.
type cellPlan struct {
	grants   sandbox.Grants
	tmp      string // the cell's TMPDIR, granted write
	net      sandbox.Net
	env      []string
	kernel   sandbox.Kernel
	gaps     []sandbox.Gap
	widening []string // each grant beyond the default of no network
	broad    []string // each grant of the root folder, the home folder or above
	pretend  int
	noSecc   bool
	created  []string // folders run makes (the TMPDIR, the cell's caches)
	notes    []string // profile files and client configurations the server can edit
	// egress is the layout of the cell's own network namespace, for a
	// profile with [network] hosts; nil otherwise.
	egress *egress.Plan
}

// planCell resolves the profile's grants and reads the kernel. It
// creates the cell's TMPDIR when create is set.
func (c *cli) planCell(p *profiles.Profile, create bool) (*cellPlan, error) {
	cell, unbuilt := profiles.CompileCell(p, c.environ)
	cp := &cellPlan{grants: cell.Grants, tmp: cell.Tmp.Path, net: cell.Net, env: cell.Env, widening: cell.Widenings}
	if create {
		if err := makeCellDir(p.Vars["CACHE"], cp.tmp, cell.Tmp.From); err != nil {
			return nil, err
		}
	}
	cell.Tmp.Optional = !create
	cp.grants.Write = append(cp.grants.Write, cell.Tmp)
	cp.created = append(cp.created, cp.tmp)
	var errs []error
	// Folders in the cell's own cache are the cell's to make (as written,
	// as the cache is: makeCellDir refuses a link on the way).
	for i, g := range cp.grants.Write {
		if !within(filepath.Clean(g.Path), filepath.Clean(p.Vars["CACHE"])) {
			continue
		}
		if create {
			if err := makeCellDir(p.Vars["CACHE"], g.Path, g.From); err != nil {
				errs = append(errs, err)
			}
		} else {
			cp.grants.Write[i].Optional = true // check does not create it
			cp.created = append(cp.created, g.Path)
		}
	}
	if err := cp.grants.Resolve(); err != nil {
		errs = append(errs, err)
	}
	// A link the server could have made chooses what a grant means: a
	// trusted profile would reach another folder with no byte changed.
	if err := cp.grants.CheckLinks(p.Vars["CACHE"], cp.tmp); err != nil {
		errs = appendNew(errs, err)
	}
	// A link where a grant is written (a repository's commit) leads it
	// into ~/.ssh or /etc with the trusted profile unchanged.
	if err := cp.grants.CheckTargets(p.Folders().SensitiveTarget); err != nil {
		errs = appendNew(errs, err)
	}
	cp.broad = broadGrants(p, cp.grants)
	if err := ownWrites(p, cp.grants); err != nil {
		errs = append(errs, err)
	}
	cp.notes = editableNotes(p, cp.grants)
	warnings, refused := runtimeWrites(p, cp.grants, embedded(p))
	if refused != nil {
		errs = append(errs, refused)
	}
	cp.broad = append(cp.broad, warnings...)
	if unbuilt != nil {
		errs = append(errs, unbuilt.(interface{ Unwrap() []error }).Unwrap()...) // one line each
	}
	if len(cell.Hosts) > 0 {
		if err := cp.planEgress(cell.Hosts, c.etc); err != nil {
			errs = append(errs, err)
		}
	}
	if v := c.getenv("MCPCELL_PRETEND_LANDLOCK_ABI"); v != "" {
		cp.pretend, _ = strconv.Atoi(v)
	}
	cp.noSecc = c.getenv("MCPCELL_PRETEND_NO_SECCOMP") == "1"
	cp.kernel = sandbox.Probe(cp.pretend, cp.noSecc)
	cp.gaps = cp.kernel.Gaps(cp.net, cell.PortsFrom)
	return cp, errors.Join(errs...)
}

// planEgress lays out the cell's own network namespace for the host
// rules: the server's resolver reads etc's resolv.conf and hosts there
// (the cell has no mount namespace of its own), so the stub listens where
// resolv.conf points and names hosts maps keep their addresses.
func (cp *cellPlan) planEgress(rules []egress.Rule, etc string) error {
	var files [2][]byte
	for i, name := range []string{"resolv.conf", "hosts"} {
		data, err := os.ReadFile(filepath.Join(etc, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("network.hosts: reading %s, where the server's resolver looks: %w", filepath.Join(etc, name), err)
		}
		files[i] = data
	}
	plan, err := egress.NewPlan(rules, files[0], files[1])
	if err != nil {
		return fmt.Errorf("network.hosts: %w", err)
	}
	cp.egress = plan
	eg := &sandbox.Egress{Addrs: plan.Addrs}
	for _, s := range plan.Sockets {
		eg.Listen = append(eg.Listen, sandbox.Listen{Addr: s.Addr, UDP: s.UDP})
	}
	cp.net.Egress = eg
	// The cell sets the proxy variables (a profile may not: Load refuses
	// them beside hosts).
	cp.env = append(cp.env, plan.Env()...)
	slices.Sort(cp.env)
	return nil
}

// makeCellDir makes dir, a folder of the cell's own cache, and the
// folders between it and cache, each a plain folder: anything else there
// (a link, a file) the server made, and is refused, not replaced, so
// that the user learns of it.
func makeCellDir(cache, dir, from string) error {
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return fmt.Errorf("%s: creating the cell's cache %s: %w", from, cache, err)
	}
	rel, err := filepath.Rel(cache, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s: %s is not in the cell's cache %s", from, dir, cache)
	}
	at := cache
	for _, name := range strings.Split(rel, string(filepath.Separator)) {
		if name == "." {
			continue
		}
		at = filepath.Join(at, name)
		err := os.Mkdir(at, 0o700)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: creating %s: %w", from, at, err)
		}
		fi, err := os.Lstat(at)
		if err != nil {
			return fmt.Errorf("%s: creating %s: %w", from, at, err)
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(at)
			return &sandbox.LinkError{Grant: sandbox.Grant{Path: dir, From: from}, Link: sandbox.SymLink{At: at, Target: target}, Writable: cache}
		case !fi.IsDir():
			return fmt.Errorf("%s: %s in the cell's cache is not a folder (%v): the server made it; remove it, and mcpcell makes the folder again", from, at, fi.Mode().Type())
		}
	}
	return nil
}

// appendNew appends each error err joins that errs does not say yet.
func appendNew(errs []error, err error) []error {
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	for _, e := range list {
		if !slices.ContainsFunc(errs, func(x error) bool { return x.Error() == e.Error() }) {
			errs = append(errs, e)
		}
	}
	return errs
}

// planHint is the hint for an error of planCell.
func planHint(err error, hint string) string {
	var link *sandbox.LinkError
	if errors.As(err, &link) {
		return "remove the link (mcpcell makes its own cache folders again as plain folders), or grant the folder it points to by its own path in a folder the server cannot write"
	}
	var target *sandbox.TargetError
	if errors.As(err, &target) {
		return fmt.Sprintf("if the server should have %s, write that path into the profile's [filesystem] in place of %s, then mcpcell trust; otherwise remove the link", target.Grant.Resolved, target.Grant.Path)
	}
	return hint
}

// broadGrants describes each grant of the root folder, the home folder or
// a folder above it: the server can then read ~/.ssh, ~/.aws and the rest.
func broadGrants(p *profiles.Profile, g sandbox.Grants) []string {
	homes := p.Homes()
	var out []string
	for _, x := range []struct {
		list []sandbox.Grant
		verb string
	}{{g.Write, "write"}, {g.Read, "read"}, {g.Exec, "read+exec"}} {
		for _, gr := range x.list {
			if gr.Resolved == "" {
				continue
			}
			if x.verb == "write" && !gr.Dir || cellCache(p, gr.Resolved) || wrappedHome(p, gr.Resolved) {
				continue // a file such as /dev/null; the cell's own cache
			}
			if why := profiles.BroadGrant(gr.Resolved, x.verb == "write", homes...); why != "" {
				out = append(out, fmt.Sprintf("the profile grants %s on %s, %s (%s): the server can reach every file there, ~/.ssh and ~/.aws among them", x.verb, gr.Resolved, why, gr.From))
			}
		}
	}
	return out
}

// runtimeWrites finds write grants that hold a runtime a preset grants
// read+exec, where the server could rewrite the node or python it runs
// (and that the next session runs). With an embedded profile (the
// default's project) that is refused; a profile file the user wrote may
// grant such a folder, and is warned about like any broad grant. A write
// grant inside a runtime's folder is not a write on the runtime.
func runtimeWrites(p *profiles.Profile, g sandbox.Grants, embedded bool) (warnings []string, refused error) {
	var errs []error
	for _, w := range g.Write {
		if w.Resolved == "" || !w.Dir {
			continue
		}
		var held []string
		for _, e := range g.Exec {
			// The cheap test first: cellCache resolves paths.
			if e.Resolved == "" || !strings.HasPrefix(e.From, "preset:") || !sandbox.Within([]sandbox.PathRule{{Path: w.Resolved, Access: sandbox.Write}}, e.Resolved, sandbox.Write) || cellCache(p, e.Resolved) {
				continue
			}
			if !slices.Contains(held, e.Resolved) {
				held = append(held, e.Resolved)
			}
		}
		if len(held) == 0 {
			continue
		}
		what := held[0]
		if len(held) > 1 {
			what = fmt.Sprintf("%s and %d more", held[0], len(held)-1)
		}
		if embedded {
			errs = append(errs, fmt.Errorf("%s: the write grant on %s holds %s, which the presets grant read+exec only: the server could rewrite a program it runs; choose a project that does not hold it, or write a profile file that grants the folder as you mean it", w.From, w.Resolved, what))
			continue
		}
		warnings = append(warnings, fmt.Sprintf("the profile grants write on %s (%s), which holds %s that the presets grant read+exec only: the server can rewrite a program it runs", w.Resolved, w.From, what))
	}
	return warnings, errors.Join(errs...)
}

// cellCache reports whether path lies in the cell's own cache, both
// resolved (a home folder that is a link makes ${CACHE} one); a side that
// cannot be resolved does not.
func cellCache(p *profiles.Profile, path string) bool {
	root, err := profiles.RealPath(p.Vars["CACHE"])
	if err != nil {
		return false
	}
	d, err := profiles.RealPath(path)
	return err == nil && within(d, root)
}

// ownWrites refuses a write grant in or over mcpcell's own folders (its
// state with the audit logs and the trust store, its configuration, the
// caches of other cells) and over the audit log: a server that can
// rewrite them can hide what it did or trust what it wrote. No grant may
// hold them, not even one of the root or home folder the user wrote on
// purpose; the defaults under each home folder count whatever XDG_*
// says (profiles.OwnRoots).
func ownWrites(p *profiles.Profile, g sandbox.Grants) error {
	if len(g.Write) == 0 {
		return nil
	}
	var errs []error
	var roots []string
	for _, root := range p.OwnRoots() {
		r, err := profiles.RealPath(root)
		if err != nil {
			errs = append(errs, fmt.Errorf("mcpcell's own folder %s cannot be resolved, so no write grant can be shown to stay out of it: %w", root, err))
			continue
		}
		roots = append(roots, r)
	}
	audit, err := profiles.RealPath(p.AuditPath)
	if err != nil {
		errs = append(errs, fmt.Errorf("the audit log %s cannot be resolved, so no write grant can be shown to stay out of it: %w", p.AuditPath, err))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, w := range g.Write {
		path := w.Resolved
		if path == "" {
			continue
		}
		if cellCache(p, path) || !w.Dir && within(path, "/dev") {
			continue
		}
		if wrappedHome(p, path) {
			continue
		}
		var held []string
		for _, r := range roots {
			if within(path, r) {
				errs = append(errs, fmt.Errorf("%s: the write grant on %s lies in mcpcell's own folder %s (its state, audit logs, trust store, settings or other cells' caches); grant a folder of the server's own", w.From, path, r))
				held = nil
				break
			}
			if within(r, path) {
				held = append(held, "folder "+r)
			}
		}
		if within(audit, path) {
			held = append(held, "audit log "+audit)
		}
		if len(held) == 0 {
			continue
		}
		errs = append(errs, fmt.Errorf("%s: the write grant on %s holds mcpcell's own %s: the server could rewrite its audit log or its trust store; grant a narrower folder (a folder under ~/.local/state/mcpcell, ~/.config/mcpcell or ~/.cache/mcpcell is mcpcell's whatever XDG_* says; an audit log can move with [audit] path)", w.From, path, strings.Join(held, ", ")))
	}
	return errors.Join(errs...)
}

// wrappedHome reports whether path lies in the folder wrap made for the
// profile of a server that has no project of its own
// (${CONFIG}/wrapped/CLIENT/NAME, the profile's folder and so its
// project): that folder holds nothing of mcpcell's but the profile, which
// runs only as the user trusted it.
func wrappedHome(p *profiles.Profile, path string) bool {
	if embedded(p) || filepath.Base(p.Origin.File) != profiles.FileName {
		return false
	}
	dir, err := profiles.RealPath(filepath.Dir(p.Origin.File))
	if err != nil {
		return false
	}
	wrapped, err := profiles.RealPath(filepath.Join(p.Vars["CONFIG"], "wrapped"))
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(wrapped, dir)
	if err != nil || strings.Count(rel, string(filepath.Separator)) != 1 || strings.HasPrefix(rel, "..") {
		return false
	}
	return within(path, dir) && path != wrapped
}

// within reports whether path is root or lies inside it.
func within(path, root string) bool {
	return path == root || strings.HasPrefix(path, root+string(filepath.Separator)) || root == "/"
}

// clientConfigs are the project files of clients that start servers: a
// server that can write one can change what the client starts.
var clientConfigs = []string{".mcp.json", ".vscode/mcp.json", ".cursor/mcp.json"}

// editableNotes names each profile file, and each client configuration
// in a write grant's folder, that the server can edit.
func editableNotes(p *profiles.Profile, g sandbox.Grants) []string {
	var out []string
	for _, w := range g.Write {
		if w.Resolved == "" || !w.Dir || cellCache(p, w.Resolved) {
			continue
		}
		for i, src := range p.Includes {
			if strings.HasPrefix(src.File, "preset:") {
				continue
			}
			if f, err := profiles.RealPath(src.File); err == nil && !within(f, w.Resolved) {
				continue
			}
			what := "the profile's include " + src.File
			if i == len(p.Includes)-1 {
				what = "the profile file " + src.File
			}
			out = append(out, fmt.Sprintf("%s lies inside the write grant on %s (%s): the server can edit it; an edit is not honoured until you trust it again", what, w.Resolved, w.From))
		}
		for _, name := range clientConfigs {
			f := filepath.Join(w.Resolved, name)
			if _, err := os.Lstat(f); err == nil {
				out = append(out, fmt.Sprintf("the client configuration %s lies inside the write grant on %s (%s): the server can edit it, and so what the client starts next", f, w.Resolved, w.From))
			}
		}
	}
	return out
}

// checkWorkDir requires the server's working folder inside a grant.
func checkWorkDir(rules []sandbox.PathRule, dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("the server's working folder %s: %w", dir, err)
	}
	if !sandbox.Within(rules, real, sandbox.Read) {
		return fmt.Errorf("the server's working folder %s is not inside a granted path", dir)
	}
	return nil
}

// serverPath finds the server executable on the cell's PATH and follows
// it as the kernel will (symlinks, #! lines, /usr/bin/env): each file must
// lie inside an exec grant. It returns the path to execute, or an error
// naming the real path outside the grants with the profile line that
// would grant it.
func serverPath(command []string, env []string, rules []sandbox.PathRule) (string, []sandbox.Link, error) {
	allowed := func(real string) bool { return runtime.GOOS != "linux" || sandbox.Within(rules, real, sandbox.Exec) }
	chain, err := sandbox.ExecChain(command[0], env, allowed)
	if err != nil {
		var np *sandbox.NotOnPathError
		switch {
		case errors.As(err, &np) && np.Name == command[0]:
			return "", nil, &startError{
				err:  fmt.Errorf("the server command %s: %w", command[0], err),
				hint: fmt.Sprintf("give the command's absolute path (-- /path/to/%s …), or add its folder to PATH in the profile's [env] set; the server gets the PATH mcpcell runs with unless the profile sets one", command[0]),
			}
		case errors.As(err, &np):
			return "", nil, &startError{
				err:  fmt.Errorf("the server command %s: %w", command[0], err),
				hint: fmt.Sprintf("install %s, or add its folder to PATH in the profile's [env] set: a #! line runs it through /usr/bin/env, which searches the server's PATH", np.Name),
			}
		case strings.ContainsRune(command[0], '/') && notExist(command[0]):
			return "", nil, &startError{
				err:  fmt.Errorf("the server command %s does not exist", command[0]),
				hint: "give the path of the server's program as it is on this machine",
			}
		}
		return "", nil, &startError{err: fmt.Errorf("the server command %s: %w", command[0], err), hint: "the command, and each interpreter a #! line names, must exist; the server gets the PATH mcpcell runs with, so give an absolute path where that PATH lacks it"}
	}
	last := chain[len(chain)-1]
	if !allowed(last.Real) {
		what := "the server command " + command[0]
		if last.Real != command[0] {
			what += " is " + last.Real
		}
		if last.Via != "" {
			what = fmt.Sprintf("the server command %s runs %s (the %s)", command[0], last.Real, last.Via)
		}
		// A runtime the presets grant where packages put it, run from
		// elsewhere (a download, a clone's node_modules/node/bin/node).
		var same []string
		for _, r := range rules {
			if r.Access&sandbox.Exec != 0 && !r.Dir && filepath.Base(r.Path) == filepath.Base(last.Real) {
				same = append(same, r.Path)
			}
		}
		what += ", which no exec grant covers"
		if len(same) > 0 {
			what += fmt.Sprintf(" (they hold another %s: %s)", filepath.Base(last.Real), strings.Join(same, ", "))
		}
		return "", chain, &startError{
			err:  errors.New(what),
			hint: fmt.Sprintf("grant it in the profile: [filesystem] exec = [%q] (exec grants read+exec; mcpcell check shows the grants)", last.Real),
		}
	}
	return chain[0].Path, chain, nil
}

// notExist reports whether path is missing (not merely unreadable).
func notExist(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// startError is a reason the server cannot start, with its own hint.
type startError struct {
	err  error
	hint string
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }
