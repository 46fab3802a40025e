package testhome

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// A Canary is what a folder held at one moment: for each path under it,
// its type, mode, size, modification time, and the hash of a file's
// content or a link's target. A test suite given a canary HOME leaves
// it as it found it.
type Canary struct {
	root    string
	entries map[string]string
}

// TakeCanary records the folder dir.
func TakeCanary(dir string) (Canary, error) {
	c := Canary{root: dir, entries: map[string]string{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		what := fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
		switch {
		case info.Mode().IsRegular():
			sum, err := hashFile(path)
			if err != nil {
				return err
			}
			what += " " + sum
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			what += " -> " + target
		}
		c.entries[path] = what
		return nil
	})
	if err != nil {
		return Canary{}, fmt.Errorf("recording %s: %w", dir, err)
	}
	return c, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// Changes lists, sorted, every path that was created, changed or
// removed between c and the folder's state now, as "created PATH",
// "changed PATH" or "removed PATH". A folder whose only change is its
// modification time had something created or removed in it since.
func (c Canary) Changes() ([]string, error) {
	now, err := TakeCanary(c.root)
	if err != nil {
		return nil, err
	}
	var out []string
	for path, was := range c.entries {
		is, ok := now.entries[path]
		switch {
		case !ok:
			out = append(out, "removed "+path)
		case is != was:
			out = append(out, "changed "+path)
		}
	}
	for path := range now.entries {
		if _, ok := c.entries[path]; !ok {
			out = append(out, "created "+path)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][8:] < out[j][8:] })
	return out, nil
}
