package profiles

import (
	"os"
	"path/filepath"
	"strings"
)

// Folders are the user's home folders and mcpcell's own: what a read
// grant that wrap writes, or that run's explanation suggests, for a
// server's code must never be or hold.
type Folders struct {
	Homes []string // as Profile.Homes
	Own   []string // as Profile.OwnRoots
}

// Folders are p's.
func (p *Profile) Folders() Folders { return Folders{p.Homes(), p.OwnRoots()} }

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
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
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
// live, is none); a folder in or over mcpcell's own.
func (f Folders) Wide(dir string) string {
	switch why := broadFolder(dir, f.Homes...); why {
	case "the root folder", "your home folder", "a folder above your home folder":
		return why
	}
	d := realOr(dir)
	for _, h := range f.Homes {
		if h == "" || !filepath.IsAbs(h) {
			continue
		}
		for _, x := range []string{filepath.Clean(h), realOr(h)} {
			if rest, ok := strings.CutPrefix(d, x+"/"); ok && strings.HasPrefix(rest, ".") && !strings.Contains(rest, "/") {
				return "a hidden folder of your home folder (~/" + rest + ")"
			}
		}
	}
	for _, own := range f.Own {
		switch o := realOr(own); {
		case d == o || strings.HasPrefix(d, o+"/"):
			return "in mcpcell's own folder " + o
		case strings.HasPrefix(o, d+"/"):
			return "a folder that holds mcpcell's own " + o
		}
	}
	return ""
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
