package profiles

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Folders are the user's home folders and mcpcell's own: what a read
// grant that wrap writes, or that run's explanation suggests, for a
// server's code must never be or hold.
type Folders struct {
	Homes []string // as Profile.Homes
	Own   []string // as Profile.OwnRoots
	// Preset are the paths the embedded default profile grants (but the
	// project): runtimes and their packages (~/.nvm/versions), never
	// sensitive.
	Preset []string
}

// Folders are p's.
func (p *Profile) Folders() Folders {
	return Folders{Homes: p.Homes(), Own: p.OwnRoots(), Preset: presetPaths(p.Vars)}
}

// presetPaths are the paths the embedded default profile grants under
// vars, its project's aside.
func presetPaths(v map[string]string) []string {
	v = maps.Clone(v)
	if v["PROJECT"] == "" {
		v["PROJECT"] = "/" // wrap's: no project; its grant is left out
	}
	p := &Profile{Vars: v, EnvSet: map[string]Entry{}, Secrets: map[string]SecretRef{}, ToolArgs: map[string]ArgRules{}}
	u, err := readPreset(DefaultName, Source{})
	if err != nil || p.merge(u, nil, nil) != nil {
		return nil
	}
	var out []string
	for _, e := range slices.Concat(p.Read, p.Write, p.Exec) {
		if filepath.IsAbs(e.Value) && e.Value != v["PROJECT"] {
			out = append(out, filepath.Clean(e.Value))
		}
	}
	return out
}

// UserFolders are the folders of the user getenv describes (HOME,
// XDG_*), for a caller with no profile yet (wrap).
func UserFolders(getenv func(string) string) Folders {
	// Any cell name: OwnRoots takes the parent of every cell's cache.
	p := &Profile{Vars: vars("", "_", getenv)}
	return p.Folders()
}

// manifests name a folder as a package's (or a project's) root.
var manifests = []string{"package.json", "pyproject.toml", "setup.py", "go.mod", "Cargo.toml"}

// CodeRoot is the folder to grant (read) for the server's code file: the
// installed packages that hold it (the outermost node_modules: a package
// imports its neighbours), else the nearest folder above it with a
// package manifest, else its own folder; links resolved. A root that is
// too wide to grant (Wide) falls back to the next of these, then to the
// file itself, and wide says why the first was not taken ("" when it
// was); root is "" when each is too wide.
func (f Folders) CodeRoot(file string) (root, wide string) {
	real, err := filepath.EvalSymlinks(file)
	if err != nil {
		real = filepath.Clean(file)
	}
	dir := real
	if fi, err := os.Stat(real); err == nil && !fi.IsDir() {
		dir = filepath.Dir(real)
	}
	var candidates []string
	if i := strings.Index(real, "/node_modules/"); i >= 0 {
		candidates = append(candidates, real[:i+len("/node_modules")])
	}
	// The walk stops below a folder every user may write (/tmp): a
	// manifest another user planted there names no code of the server's.
	for d := dir; d != "/" && d != "." && shared(d) == ""; d = filepath.Dir(d) {
		if hasManifest(d) {
			candidates = append(candidates, d)
			break
		}
	}
	candidates = append(candidates, dir, real)
	for _, c := range candidates {
		why := f.Wide(c)
		if why == "" {
			return c, wide
		}
		if wide == "" {
			wide = c + " is " + why
		}
	}
	return "", wide
}

func hasManifest(dir string) bool {
	for _, m := range manifests {
		if _, err := os.Stat(filepath.Join(dir, m)); err == nil {
			return true
		}
	}
	return false
}

// Wide says why dir is too wide for a grant of a server's code ("your
// home folder", …), or "": the root folder; a home folder, one above it,
// or one of its hidden folders itself (~/.ssh, ~/.config: credentials and
// tools' settings; ~/.nvm/versions/…/node_modules, where global packages
// live, is none); a system folder itself (/usr, /opt, /home; its
// subfolders, /usr/lib/node_modules among them, are none) or one that
// holds the system's settings or state (/etc, /proc, /run…); a folder
// every user may write (/tmp, /var/tmp, /dev/shm); a folder in or over
// mcpcell's own.
func (f Folders) Wide(dir string) string {
	switch why := broadFolder(dir, f.Homes...); why {
	case "the root folder", "your home folder", "a folder above your home folder":
		return why
	}
	d := realOr(dir)
	for _, x := range []string{d, filepath.Clean(dir)} {
		if slices.Contains(systemTrees, x) || slices.Contains(systemFolders, x) || slices.Contains(systemHomes, x) || x == "/dev/shm" {
			return "a system folder (" + x + ")"
		}
		for _, s := range settingsTrees {
			if strings.HasPrefix(x, s+"/") {
				return "in a system folder (" + s + ")"
			}
		}
	}
	if why := shared(d); why != "" {
		return why
	}
	for _, x := range f.homeForms(true) {
		if rest, ok := strings.CutPrefix(d, x+"/"); ok && strings.HasPrefix(rest, ".") && !strings.Contains(rest, "/") {
			return "a hidden folder of your home folder (~/" + rest + ")"
		}
	}
	return f.own(d)
}

// own says how the resolved folder d meets one of mcpcell's own ("in
// mcpcell's own folder …", "a folder that holds mcpcell's own …"), or "".
func (f Folders) own(d string) string {
	for _, own := range f.Own {
		switch o := realOr(own); {
		case inside(d, o):
			return "in mcpcell's own folder " + o
		case strings.HasPrefix(o, d+"/"):
			return "a folder that holds mcpcell's own " + o
		}
	}
	return ""
}

// settingsTrees hold the system's settings, secrets and state, not a
// server's code: no folder in them is granted for one.
var settingsTrees = []string{"/etc", "/proc", "/sys", "/dev", "/boot", "/run", "/root", "/private/etc", "/private/var/root"}

// shared says why dir is a folder every user may write (/tmp: sticky or
// world-writable), or "": what is in it may be another user's.
func shared(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return ""
	}
	if fi.Mode()&os.ModeSticky != 0 || fi.Mode().Perm()&0o002 != 0 {
		return "a folder every user may write (" + dir + ")"
	}
	return ""
}

// WideWrite says why dir is too wide or too sensitive for a write grant
// wrap writes for a folder on a server's command line, or "": the root
// folder, a home folder or one above it, a system folder or one in a
// system tree (BroadGrant for write), a hidden folder of a home folder or
// any folder in one (~/.ssh, ~/.aws/x: a server that may write there runs
// code outside the cell the next time ssh or a tool reads its settings),
// a folder in or over mcpcell's own.
func (f Folders) WideWrite(dir string) string {
	if why := BroadGrant(dir, true, f.Homes...); why != "" {
		return why
	}
	return f.own(realOr(dir))
}

// Sensitive says why wrap grants no path named on a server's command
// line (a file, a folder, the server's code or its code root), or "": one
// that is, as written or resolved, a hidden file of a home folder or in
// a hidden folder (~/.netrc, ~/.ssh/id_ed25519, ~/.aws/credentials,
// ~/.config/gh/hosts.yml: credentials and tools' settings), in
// mcpcell's own folders, or in a folder of the system's settings, secrets
// and state outside the home folders (/etc/shadow, /etc/ssl/private,
// /var/lib, /run/secrets, /proc); a path the embedded default profile
// grants (~/.nvm/versions/…, /etc/ssl/certs: runtimes and TLS roots) is
// none.
func (f Folders) Sensitive(path string) string {
	return f.sensitive(realOr(path), filepath.Clean(path))
}

// SensitiveTarget says why the resolved path of a grant is sensitive (as
// Sensitive), or the root folder, a home folder or one above it, when its
// path as written is none of these, or "": a link put where the profile
// grants (docs -> ../.ssh, docs -> ..) leads the grant somewhere the user
// never approved. A path written so was written knowingly.
func (f Folders) SensitiveTarget(written, resolved string) string {
	w, r := filepath.Clean(written), filepath.Clean(resolved)
	if f.sensitive(w) != "" || f.holdsHome(w) != "" {
		return ""
	}
	if why := f.sensitive(r); why != "" {
		return why
	}
	return f.holdsHome(r)
}

// holdsHome says whether the cleaned path p, taken as written, is the
// root folder, a home folder or a folder above one, or "".
func (f Folders) holdsHome(p string) string {
	if p == "/" {
		return "the root folder, which holds every credential"
	}
	for _, x := range f.homeForms(true) {
		switch {
		case p == x:
			return "your home folder, which holds ~/.ssh and ~/.aws"
		case strings.HasPrefix(x, p+"/"):
			return "a folder above your home folder, which holds ~/.ssh and ~/.aws"
		}
	}
	return ""
}

// sensitive is Sensitive for each of the forms of one path, cleaned.
func (f Folders) sensitive(forms ...string) string {
	for _, y := range forms {
		if f.preset(y) {
			continue
		}
		what := "a file"
		if fi, err := os.Stat(y); err == nil && fi.IsDir() {
			what = "a folder"
		}
		for _, x := range f.homeForms(false) {
			if rest, ok := strings.CutPrefix(y, x+"/"); ok && strings.HasPrefix(rest, ".") {
				top, _, _ := strings.Cut(rest, "/")
				if top == rest {
					return "a hidden " + strings.TrimPrefix(what, "a ") + " of your home folder (~/" + top + "), where credentials and tools' settings live"
				}
				return what + " in a hidden folder of your home folder (~/" + top + "), where credentials and tools' settings live"
			}
		}
		for _, own := range f.Own {
			for _, o := range []string{filepath.Clean(own), realOr(own)} {
				if inside(y, o) {
					return what + " in mcpcell's own folder " + o
				}
			}
		}
		if f.inHome(y) {
			continue // root's home is /root: its hidden files are the rule there
		}
		for _, t := range systemSecrets {
			if inside(y, t) {
				return what + " in a system folder (" + t + "), where the system's settings, secrets and state live (only what the default profile grants there, such as TLS roots, is granted)"
			}
		}
	}
	return ""
}

// systemSecrets hold the system's settings, secrets and state
// (/etc/shadow, /etc/ssl/private, /run/secrets, /proc/N/environ): no
// path in them is granted for a server's argument.
var systemSecrets = []string{"/etc", "/root", "/proc", "/sys", "/boot", "/run", "/var/lib", "/dev", "/private/etc", "/private/var/root", "/private/var/db"}

// inHome says whether the cleaned path p is in one of the home folders.
func (f Folders) inHome(p string) bool {
	return slices.ContainsFunc(f.homeForms(false), func(x string) bool { return inside(p, x) })
}

// homeForms are the home folders that are absolute paths, each cleaned
// and resolved; the root folder among them only with root.
func (f Folders) homeForms(root bool) []string {
	var forms []string
	for _, h := range f.Homes {
		if h == "" || !filepath.IsAbs(h) || (h == "/" && !root) {
			continue
		}
		forms = append(forms, filepath.Clean(h), realOr(h))
	}
	return forms
}

// inside says whether the cleaned path p is dir or in it.
func inside(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// preset says whether the cleaned path p is one the embedded default
// profile grants, or in one.
func (f Folders) preset(p string) bool {
	for _, g := range f.Preset {
		for _, x := range []string{g, realOr(g)} {
			if inside(p, x) || x == "/" {
				return true
			}
		}
	}
	return false
}

// realOr is p resolved (RealPath), or p cleaned when it cannot be.
func realOr(p string) string {
	if r, err := RealPath(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

// NotProject says why dir is too wide to be a project that wrap writes a
// profile for, whose default grants the project read-write ("your home
// folder", the root folder, a system folder…), or "".
func (f Folders) NotProject(dir string) string { return BroadGrant(dir, true, f.Homes...) }
