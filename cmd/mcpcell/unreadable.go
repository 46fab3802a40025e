package main

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcpcell/mcpcell/internal/clientconf"
	"github.com/mcpcell/mcpcell/profiles"
	"github.com/mcpcell/mcpcell/sandbox"
)

// unreadable is a file of the server's code that the cell cannot read:
// the commonest reason a server exits before it answers (Node's EACCES).
type unreadable struct {
	path  string // as the command names it
	real  string // symlinks resolved
	grant string // the folder whose read grant fixes it; "" for none
	// wide says why a wider grant (the folder its package starts in) is
	// not the one named (profiles.Folders.CodeRoot).
	wide string
	// packages: real is readable, but not the installed packages
	// (grant) it imports from.
	packages bool
	// unsuggested says why no grant is named: the file lies where mcpcell
	// never suggests one (a hidden folder of a home folder, its own…).
	unsuggested string
}

// findUnreadable names each file of the server's code that exists on the
// host but that no grant of the cell (rules, the plan run starts it with)
// covers for reading: the files its #! chain runs (the command itself)
// and the script an interpreter runs (clientconf.ScriptIndex, the rule
// wrap grants by); no other argument, which may be data (--key=FILE).
// Relative paths are taken against the server's working folder dir. run
// calls it before the server starts: a server that swaps a file for a
// link as it exits does not choose what is named. The grant named is the
// file's code root (folders.CodeRoot), never one too wide to grant nor
// one in a hidden folder of a home folder or in mcpcell's own.
func findUnreadable(command []string, chain []sandbox.Link, dir string, rules []sandbox.PathRule, folders profiles.Folders) []unreadable {
	var names []string
	for _, l := range chain {
		names = append(names, l.Real)
	}
	if i := clientconf.ScriptIndex(command); i > 0 {
		names = append(names, command[i])
	}
	var out []unreadable
	for _, name := range names {
		if name == "" {
			continue
		}
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil || slices.ContainsFunc(out, func(u unreadable) bool { return u.real == real }) {
			continue
		}
		readable := sandbox.Within(rules, real, sandbox.Read)
		if why := unsuggested(folders, path, real); why != "" {
			if !readable {
				out = append(out, unreadable{path: name, real: real, unsuggested: why})
			}
			continue
		}
		root, wide := folders.CodeRoot(real)
		if why := unsuggested(folders, root); root != "" && why != "" {
			root, wide = "", cmp.Or(wide, root+" is "+why)
		}
		switch {
		case !readable:
			out = append(out, unreadable{path: name, real: real, grant: root, wide: wide})
		case wide == "" && filepath.Base(root) == "node_modules" && !sandbox.Within(rules, root, sandbox.Read):
			// A package granted alone: what it imports lies beside it.
			out = append(out, unreadable{path: name, real: real, grant: root, packages: true})
		}
	}
	return out
}

// unsuggested says why mcpcell never suggests a read grant of any of
// paths for a server's code (profiles.Folders.Wide, Sensitive: a hidden
// folder of a home folder and all in it, where credentials live,
// mcpcell's own), or "".
func unsuggested(folders profiles.Folders, paths ...string) string {
	for _, p := range paths {
		if why := cmp.Or(folders.Sensitive(p), folders.Wide(p)); why != "" {
			return why
		}
	}
	return ""
}

// explainExit says why a server may have exited before answering: the
// error and hint run prints, and the note for the audit log.
func explainExit(p *profiles.Profile, exit int, missing []unreadable) (msg, hint string) {
	msg = fmt.Sprintf("the server exited (status %d) before answering", exit)
	if len(missing) == 0 {
		return msg, "its own messages above say why; mcpcell check shows what the cell grants"
	}
	var paths, grants, wides, nots []string
	for _, u := range missing {
		what := u.path
		if u.real != u.path {
			what += " (" + u.real + ")"
		}
		if u.packages {
			what = fmt.Sprintf("the packages in %s that %s imports", u.grant, what)
		}
		paths = append(paths, what)
		if u.unsuggested != "" {
			nots = append(nots, fmt.Sprintf("%s lies where mcpcell suggests no grant (%s)", what, u.unsuggested))
		}
		if u.grant != "" && !slices.Contains(grants, u.grant) {
			grants = append(grants, u.grant)
		}
		if u.wide != "" && !slices.Contains(wides, u.wide) {
			wides = append(wides, u.wide)
		}
	}
	them := "it"
	if len(paths) > 1 {
		them = "them"
	}
	msg += fmt.Sprintf("; it may not read %s: no grant covers %s", strings.Join(paths, ", "), them)
	// A wider grant would fix it too, and give the server far more: it is
	// never suggested, and the hint says why.
	wide := ""
	if len(wides) > 0 {
		wide = " (" + strings.Join(wides, "; ") + ": too wide to grant)"
	}
	not := ""
	if len(nots) > 0 {
		not = "; " + strings.Join(nots, "; ") + ": if it is truly the server's code, move the code to a folder of its own, or grant it yourself, knowingly"
	}
	list := tomlStrings(grants)
	switch {
	case len(grants) == 0 && len(nots) == len(missing):
		return msg, strings.TrimPrefix(not, "; ")
	case len(grants) == 0:
		return msg, fmt.Sprintf("grant a folder that holds the server's code, and no more, in [filesystem] read%s%s", wide, not)
	case embedded(p):
		return msg, fmt.Sprintf("write a profile: a %s with include = [\"default\"] and [filesystem] read = [%s]%s, trust it, and run mcpcell run --profile /abs/path/%s …; or run from the server's folder as the project (--project DIR; the default grants it read-write)%s", profiles.FileName, list, wide, profiles.FileName, not)
	}
	return msg, fmt.Sprintf("add %s to [filesystem] read in %s%s, then mcpcell trust --profile %s%s", list, p.Origin.File, wide, shellWords(p.Origin.File), not)
}

// tomlStrings writes list as the items of a TOML array of strings.
func tomlStrings(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
