package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFollowPath(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mk := func(rel string) { os.MkdirAll(filepath.Join(root, rel), 0o755) }
	ln := func(target, rel string) {
		if err := os.Symlink(target, filepath.Join(root, rel)); err != nil {
			t.Fatal(err)
		}
	}
	mk("pub/sub")
	mk("priv")
	os.WriteFile(filepath.Join(root, "priv/s"), []byte("x"), 0o644)
	ln("../priv", "pub/up")
	ln(filepath.Join(root, "priv"), "pub/abs")
	ln("up", "pub/chain")
	ln("../priv/new", "pub/dangling")
	ln("../../priv", "pub/sub/deep")
	ln("loop", "pub/loop")
	ln("sub/..", "pub/dotdot") // .. inside a target resolves physically
	for _, tc := range []struct{ in, want, why string }{
		{"pub/x", "pub/x", ""},
		{"pub/up/s", "priv/s", ""},
		{"pub/abs/s", "priv/s", ""},
		{"pub/chain/s", "priv/s", ""},
		{"pub/dangling", "priv/new", ""},
		{"pub/sub/deep/s", "priv/s", ""},
		{"pub/missing/../x", "pub/x", ""},
		{"pub/sub/../x", "pub/x", ""},
		{"pub/dotdot/x", "pub/x", ""},
		{"pub/up/../pub/x", "", "holds .. after a symbolic link"},
		{"pub/loop/x", "", "too many levels"},
	} {
		got, why := resolveWithin(root + "/" + tc.in) // not Join: it would clean the ..
		if tc.why != "" {
			if !strings.Contains(why, tc.why) {
				t.Errorf("resolveWithin(%s) = %q, %q; want a refusal %q", tc.in, got, why, tc.why)
			}
			continue
		}
		if want := filepath.Join(root, tc.want); got != want || why != "" {
			t.Errorf("resolveWithin(%s) = %q, %q; want %s", tc.in, got, why, want)
		}
	}
	// A within root that is itself a link holds what its target holds.
	ln("pub", "alias")
	if why := outside(filepath.Join(root, "pub/x"), []string{filepath.Join(root, "alias")}, "/"); why != "" {
		t.Errorf("a root through a link: %s", why)
	}
	if why := outside(filepath.Join(root, "pub/up/s"), []string{filepath.Join(root, "pub")}, "/"); why == "" {
		t.Errorf("a link out of the root was let through")
	}
}

// RealPath resolves the longest existing prefix and appends the rest:
// a folder not made yet under a home folder that is a link is under the
// link's target, as the kernel will make it; a file on the way ends the
// walk; a relative path is an error, never a guess.
func TestRealPath(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(base, "data", "me")
	os.MkdirAll(real, 0o755)
	link := filepath.Join(base, "home")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(real, "afile"), nil, 0o600)
	for _, tc := range []struct{ in, want string }{
		{filepath.Join(link, ".local/state/mcpcell"), filepath.Join(real, ".local/state/mcpcell")},
		{link, real},
		{filepath.Join(link, "afile/log.jsonl"), filepath.Join(real, "afile/log.jsonl")},
		{filepath.Join(base, "nowhere/x"), filepath.Join(base, "nowhere/x")},
	} {
		if got, err := RealPath(tc.in); err != nil || got != tc.want {
			t.Errorf("RealPath(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if got, err := RealPath("home/x"); err == nil {
		t.Errorf("RealPath of a relative path = %q, want an error", got)
	}
}
