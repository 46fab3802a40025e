package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mcpcell/mcpcell/internal/pathwalk"
)

// SymLink is a symbolic link met on the way to a granted path.
type SymLink struct {
	At     string // where the link is, its folder's symlinks resolved
	Target string // what it says, as written
}

// linksOn walks the absolute path path as the kernel resolves it and
// returns each symbolic link it meets, in order, chains and links in the
// middle included. A missing component ends the walk.
// Only tests call it; Resolve records each grant's links the same way.
func linksOn(path string) ([]SymLink, error) {
	var out []SymLink
	_, err := pathwalk.Follow(path, func(at, target string) { out = append(out, SymLink{At: at, Target: target}) })
	return out, err
}

// LinkError is a grant whose path passes through a symbolic link in a
// folder the server can write: the server could have made it, and so
// chosen what the grant means.
type LinkError struct {
	Grant    Grant
	Link     SymLink
	Writable string // the folder the server can write that holds the link
}

func (e *LinkError) Error() string {
	if e.Link.At == filepath.Clean(e.Grant.Path) {
		return fmt.Sprintf("%s: the granted path %s is a symbolic link (to %s) in %s, a folder the server can write: the server may have made it to point the grant elsewhere", e.Grant.From, e.Grant.Path, e.Link.Target, e.Writable)
	}
	return fmt.Sprintf("%s: the grant on %s passes through the symbolic link %s (to %s), which lies in %s, a folder the server can write: the server may have made it to point the grant elsewhere", e.Grant.From, e.Grant.Path, e.Link.At, e.Link.Target, e.Writable)
}

// CheckLinks refuses every grant whose path passes through a symbolic
// link that lies in a folder the server can write: a resolved write grant
// on a folder, or one of writable (the cell's own cache and TMPDIR). Call
// it after Resolve.
func (g *Grants) CheckLinks(writable ...string) error {
	var roots []string
	for _, w := range writable {
		if r, err := filepath.EvalSymlinks(w); err == nil {
			w = r
		}
		roots = append(roots, filepath.Clean(w))
	}
	for _, w := range g.Write {
		if w.Resolved != "" && w.Dir {
			roots = append(roots, w.Resolved)
		}
	}
	var errs []error
	for _, list := range [][]Grant{g.Read, g.Write, g.Exec} {
		for _, gr := range list {
		links:
			for _, l := range gr.Links {
				for _, r := range roots {
					if strings.HasPrefix(l.At, r+string(filepath.Separator)) || r == "/" {
						errs = append(errs, &LinkError{Grant: gr, Link: l, Writable: r})
						break links
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// TargetError is a grant whose path, as written, names no sensitive
// place, but which resolves through a symbolic link into one: whoever
// put the link there (a repository's next commit, replacing a granted
// docs/ by docs -> ../.ssh) chose what the grant gives, with no byte of
// the trusted profile changed.
type TargetError struct {
	Grant Grant
	Why   string // why the resolved path is sensitive
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("%s: the grant on %s leads, through a symbolic link, to %s, %s: the profile names %s, not that; whoever made the link chose what the grant gives", e.Grant.From, e.Grant.Path, e.Grant.Resolved, e.Why, e.Grant.Path)
}

// CheckTargets refuses every grant that passes through a symbolic link
// and whose resolved path sensitive judges sensitive (the reason, or "")
// when its path as written is not. Call it after Resolve.
func (g *Grants) CheckTargets(sensitive func(written, resolved string) string) error {
	var errs []error
	for _, list := range [][]Grant{g.Read, g.Write, g.Exec} {
		for _, gr := range list {
			if gr.Resolved == "" || len(gr.Links) == 0 {
				continue
			}
			if why := sensitive(gr.Path, gr.Resolved); why != "" {
				errs = append(errs, &TargetError{Grant: gr, Why: why})
			}
		}
	}
	return errors.Join(errs...)
}
