package profiles

import (
	"fmt"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
)

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
			if !inHome && inside(x, s) {
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
		case inside(d, r):
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
