// Package pathwalk resolves a path the way the kernel's open(2) does,
// one component at a time, and says which symbolic links it meets. The
// policy's `within` check and the cell's check of grants through links a
// server could have made both ask it, so that both read a path as the
// server's open will. A new reader of paths that must agree with open(2)
// asks Follow rather than filepath.EvalSymlinks, which fails on what
// does not exist yet (a dangling link's target included).
//
// It reads the file system as it is when asked: it does not hold what it
// resolved, so a path can change between a walk and its use (the cell's
// helper opens each granted path itself, without following links).
package pathwalk

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxLinks is how many symbolic links a path may pass: the kernel's
// limit (ELOOP past 40).
const maxLinks = 40

// errLoop is a path that passes more than maxLinks links.
var errLoop = errors.New("too many levels of symbolic links")

// Follow resolves the absolute path p as open(2) would, as far as it
// exists: each symbolic link is followed (a dangling one too: creating
// through it creates its target), and ".." is the parent of what the walk
// has reached so far, not of what was written. What does not exist is
// appended as written, cleaned. link, when not nil, is told of each link
// met, in order: at is where the link is (its folder resolved), target
// what it says.
func Follow(p string, link func(at, target string)) (string, error) {
	parts := strings.Split(p, "/")
	resolved := "/"
	links := 0
	for i := 0; i < len(parts); i++ {
		part := parts[i]
		switch part {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, part)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.Join(append([]string{next}, parts[i+1:]...)...), nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > maxLinks {
			return "", errLoop
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if link != nil {
			link(next, target)
		}
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		parts = append(strings.Split(target, "/"), parts[i+1:]...)
		i = -1
	}
	return resolved, nil
}
