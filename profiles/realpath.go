package profiles

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/mcpcell/mcpcell/internal/pathwalk"
)

// followPath resolves the absolute path p as open(2) would, as far as it
// exists (see pathwalk.Follow).
func followPath(p string) (string, error) { return pathwalk.Follow(p, nil) }

// RealPath is the absolute path p with its symbolic links resolved as far
// as it exists and the rest appended, as open(2) would reach it (see
// pathwalk.Follow). Whether a path is in or over one of mcpcell's own
// folders is asked of two RealPaths, never of a resolved path and one as
// written: a home folder that is a link would otherwise hide a folder
// that does not exist yet.
func RealPath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%q is not an absolute path", p)
	}
	r, err := followPath(p)
	if errors.Is(err, syscall.ENOTDIR) && p != "/" {
		// A file on the way: nothing under it exists, so the rest is
		// appended to what its parent resolves to.
		parent, err := RealPath(filepath.Dir(p))
		if err != nil {
			return "", err
		}
		return filepath.Join(parent, filepath.Base(p)), nil
	}
	return r, err
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
