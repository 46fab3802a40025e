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
		links, err := linksOn(tc.path)
		var at []string
		for _, l := range links {
			at = append(at, l.At)
		}
		if err != nil || strings.Join(at, " ") != strings.Join(tc.at, " ") {
			t.Errorf("linksOn(%s) = %v, %v; want %v", tc.path, at, err, tc.at)
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

// CheckLinks judges the links of the walk that resolved each grant, not
// of another walk: a server that flips its folder to a link while
// Resolve walks, and back to a folder before CheckLinks, would otherwise
// have the grant resolved through its link (to ~/.ssh) and the check see
// none. Control: a grant resolved while it is a folder passes.
func TestCheckLinksJudgesTheResolution(t *testing.T) {
	writable := t.TempDir()
	private := t.TempDir()
	granted := filepath.Join(writable, "_npx")
	if err := os.Symlink(private, granted); err != nil {
		t.Fatal(err)
	}
	g := Grants{Read: []Grant{{Path: granted, From: "preset:node:26"}}}
	if err := g.Resolve(); err != nil {
		t.Fatal(err)
	}
	if g.Read[0].Resolved != private {
		t.Fatalf("resolved %s, want %s", g.Read[0].Resolved, private)
	}
	// Flipped back to a folder before the check.
	os.Remove(granted)
	os.Mkdir(granted, 0o700)
	if err := g.CheckLinks(writable); err == nil {
		t.Errorf("the grant resolved through a link to %s passed the check", private)
	}
	control := Grants{Read: []Grant{{Path: granted, From: "preset:node:26"}}}
	if err := control.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := control.CheckLinks(writable); err != nil {
		t.Errorf("control: %v", err)
	}
}
