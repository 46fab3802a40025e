package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

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
}

// findUnreadable names each path among the command's arguments, and the
// files its #! chain runs, that exists on the host but that no grant of
// the cell (rules, the plan run started it with) covers for reading.
// Relative arguments are taken against the server's working folder dir;
// "--flag=PATH" counts PATH. The grant named is the file's code root
// (folders.CodeRoot), never one too wide to grant.
func findUnreadable(command []string, chain []sandbox.Link, dir string, rules []sandbox.PathRule, folders profiles.Folders) []unreadable {
	var names []string
	for _, l := range chain {
		names = append(names, l.Real)
	}
	for _, a := range command[1:] {
		if strings.HasPrefix(a, "-") {
			_, v, ok := strings.Cut(a, "=")
			if !ok {
				continue
			}
			a = v
		}
		names = append(names, a)
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
		root, wide := folders.CodeRoot(real)
		switch {
		case !sandbox.Within(rules, real, sandbox.Read):
			out = append(out, unreadable{path: name, real: real, grant: root, wide: wide})
		case wide == "" && filepath.Base(root) == "node_modules" && !sandbox.Within(rules, root, sandbox.Read):
			// A package granted alone: what it imports lies beside it.
			out = append(out, unreadable{path: name, real: real, grant: root, packages: true})
		}
	}
	return out
}

// explainExit says why a server may have exited before answering: the
// error and hint run prints, and the note for the audit log.
func explainExit(p *profiles.Profile, exit int, missing []unreadable) (msg, hint string) {
	msg = fmt.Sprintf("the server exited (status %d) before answering", exit)
	if len(missing) == 0 {
		return msg, "its own messages above say why; mcpcell check shows what the cell grants"
	}
	var paths, grants, wides []string
	for _, u := range missing {
		what := u.path
		if u.real != u.path {
			what += " (" + u.real + ")"
		}
		if u.packages {
			what = fmt.Sprintf("the packages in %s that %s imports", u.grant, what)
		}
		paths = append(paths, what)
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
	list := tomlStrings(grants)
	switch {
	case len(grants) == 0:
		return msg, fmt.Sprintf("grant a folder that holds the server's code, and no more, in [filesystem] read%s", wide)
	case embedded(p):
		return msg, fmt.Sprintf("write a profile: a %s with include = [\"default\"] and [filesystem] read = [%s]%s, trust it, and run mcpcell run --profile /abs/path/%s …; or run from the server's folder as the project (--project DIR; the default grants it read-write)", profiles.FileName, list, wide, profiles.FileName)
	}
	return msg, fmt.Sprintf("add %s to [filesystem] read in %s%s, then mcpcell trust --profile %s", list, p.Origin.File, wide, shellWords(p.Origin.File))
}

// tomlStrings writes list as the items of a TOML array of strings.
func tomlStrings(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
