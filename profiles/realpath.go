package profiles

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxLinks is how many symbolic links a path may pass, as the kernel's
// limit (ELOOP past 40).
const maxLinks = 40

// errLoop is a path that passes more than maxLinks links.
var errLoop = errors.New("too many levels of symbolic links")

// followPath resolves the absolute path p as open(2) would, as far as it
// exists: each symbolic link is followed (a dangling one too: creating
// through it creates its target), and ".." is the parent of what the walk
// has reached so far, not of what was written. What does not exist is
// appended as written, cleaned.
func followPath(p string) (string, error) {
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
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		parts = append(strings.Split(target, "/"), parts[i+1:]...)
		i = -1
	}
	return resolved, nil
}

// resolveWithin resolves path for a within check: followed as the kernel
// follows it, and refused when a ".." after a symbolic link makes that
// differ from the path cleaned first, as servers that normalise a path
// before they open it (Node's path.resolve) read it.
func resolveWithin(path string) (string, string) {
	physical, err := followPath(path)
	if err != nil {
		return "", "cannot be resolved: " + err.Error()
	}
	lexical, err := followPath(filepath.Clean(path))
	if err != nil {
		return "", "cannot be resolved: " + err.Error()
	}
	if physical != lexical {
		return "", "holds .. after a symbolic link, which servers resolve two ways"
	}
	return physical, ""
}
