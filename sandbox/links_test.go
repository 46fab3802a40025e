package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLinksOnAndCheckLinks(t *testing.T) {
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	w := filepath.Join(dir, "writable")
	ro := filepath.Join(dir, "ro")
	target := filepath.Join(dir, "target")
	for _, d := range []string{w, ro, target + "/sub"} {
		os.MkdirAll(d, 0o700)
	}
	os.Symlink(target, filepath.Join(w, "last"))                     // absolute, last component
	os.Symlink("../target", filepath.Join(w, "rel"))                 // relative
	os.Symlink(filepath.Join(w, "last"), filepath.Join(ro, "chain")) // the user's link to the server's
	os.Symlink(target, filepath.Join(ro, "mine"))                    // the user's link, outside
	for _, tc := range []struct {
		path string
		at   []string
		err  string
	}{
		{filepath.Join(w, "last"), []string{w + "/last"}, "is a symbolic link (to " + target + ") in " + w},
		{filepath.Join(w, "last", "sub"), []string{w + "/last"}, "passes through the symbolic link " + w + "/last"},
		{filepath.Join(w, "rel", "sub"), []string{w + "/rel"}, "(to ../target)"},
		{filepath.Join(ro, "chain", "sub"), []string{ro + "/chain", w + "/last"}, "passes through the symbolic link " + w + "/last"},
		{filepath.Join(ro, "mine", "sub"), []string{ro + "/mine"}, ""},
		{filepath.Join(ro, "missing", "x"), nil, ""},
	} {
		links, err := LinksOn(tc.path)
		var at []string
		for _, l := range links {
			at = append(at, l.At)
		}
		if err != nil || strings.Join(at, " ") != strings.Join(tc.at, " ") {
			t.Errorf("LinksOn(%s) = %v, %v; want %v", tc.path, at, err, tc.at)
		}
		g := Grants{Read: []Grant{{Path: tc.path, From: "p.toml:1", Optional: true}}, Write: []Grant{{Path: w, From: "p.toml:2"}}}
		g.Resolve()
		err = g.CheckLinks()
		if got := ""; err != nil {
			got = err.Error()
			if tc.err == "" || !strings.Contains(got, tc.err) || !strings.HasPrefix(got, "p.toml:1: ") {
				t.Errorf("CheckLinks(%s) = %q; want %q", tc.path, got, tc.err)
			}
		} else if tc.err != "" {
			t.Errorf("CheckLinks(%s) = nil; want %q", tc.path, tc.err)
		}
	}
	// A folder passed as writable (the cell's cache) counts as a write grant.
	g := Grants{Read: []Grant{{Path: filepath.Join(w, "last"), From: "p.toml:1"}}}
	g.Resolve()
	if err := g.CheckLinks(); err != nil {
		t.Errorf("no writable folder: %v", err)
	}
	if err := g.CheckLinks(w); err == nil {
		t.Errorf("writable %s: no error", w)
	}
}
