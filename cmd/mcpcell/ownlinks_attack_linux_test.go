package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Attack (review 11b, O1): with a home folder that is a link
// (HOME=/homes/me -> /data/me), the XDG folders moved out and
// ~/.local/state not made yet, mcpcell's default folders under the home
// folder were compared as written while the write grant was resolved: a
// grant of ${HOME} passed, and the cell forged the default trust store. The
// other way round, HOME the real path and an XDG folder given through a
// link, hid ${STATE} the same way. Every side of the question is now
// resolved as far as it exists. Controls: a narrower grant runs.
func TestOwnFoldersThroughLinks(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "data", "me")
	link := filepath.Join(base, "homes", "me")
	for _, d := range []string{real, filepath.Dir(link), filepath.Join(real, ".local"), filepath.Join(real, ".cache"), filepath.Join(real, "work")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	alt := filepath.Join(base, "alt")
	moved := []string{"XDG_STATE_HOME=" + filepath.Join(alt, "state"), "XDG_CACHE_HOME=" + filepath.Join(alt, "cache"), "XDG_CONFIG_HOME=" + filepath.Join(alt, "config")}
	project := filepath.Join(base, "proj")
	os.MkdirAll(project, 0o755)
	attack := []string{"--", "/bin/sh", "-c", "echo x >> planted && echo WROTE >&2"}

	// refused runs trust and then run (as if trusted) with the profile
	// and wants both refused at the grant's line with want.
	refused := func(t *testing.T, home string, env []string, profile, want string) {
		t.Helper()
		path := filepath.Join(project, "p.toml")
		os.WriteFile(path, []byte(profile), 0o600)
		want = path + ":3: " + want
		_, stderr, rc := mcpcellIn(t, project, home, env, append([]string{"trust", "--yes", "--profile", path}, attack...)...)
		if rc != exitFailed || !strings.Contains(stderr, "mcpcell: error: "+want) {
			t.Errorf("trust: exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
		}
		_, stderr, rc = mcpcellIn(t, project, home, append(env, noTrustEnv+"=1"), append([]string{"run", "--profile", path}, attack...)...)
		if rc != exitFailed || strings.Contains(stderr, "WROTE") || !strings.Contains(stderr, want) {
			t.Errorf("run: exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
		}
	}
	profile := func(grant string) string {
		return "include = [\"default\"]\n[filesystem]\nwrite = [\"" + grant + "\"]\n"
	}
	for _, tc := range []struct{ grant, want string }{
		{"${HOME}", "the write grant on " + real + " holds mcpcell's own folder " + filepath.Join(real, ".local/state/mcpcell")},
		{"${HOME}/.local", "the write grant on " + filepath.Join(real, ".local") + " holds mcpcell's own folder " + filepath.Join(real, ".local/state/mcpcell")},
		{"${HOME}/.cache", "the write grant on " + filepath.Join(real, ".cache") + " holds mcpcell's own folder " + filepath.Join(real, ".cache/mcpcell")},
		{real, "the write grant on " + real + " holds mcpcell's own folder " + filepath.Join(real, ".local/state/mcpcell")},
	} {
		t.Run("HOME a link, XDG moved out, write on "+tc.grant, func(t *testing.T) {
			refused(t, link, moved, profile(tc.grant), tc.want)
		})
	}

	// HOME the real path; ${STATE} named through a link to a folder the
	// profile grants (or the project), and not made yet: each case has a
	// link of its own.
	viaLink := func(t *testing.T) (target string, env []string) {
		target = filepath.Join(t.TempDir(), "xdg-real")
		os.MkdirAll(target, 0o755)
		l := filepath.Join(t.TempDir(), "xdg-link")
		if err := os.Symlink(target, l); err != nil {
			t.Fatal(err)
		}
		return target, []string{"XDG_STATE_HOME=" + filepath.Join(l, "state"), "XDG_CACHE_HOME=" + filepath.Join(alt, "cache"), "XDG_CONFIG_HOME=" + filepath.Join(alt, "config")}
	}
	t.Run("HOME real, XDG_STATE_HOME through a link, write on its target", func(t *testing.T) {
		target, env := viaLink(t)
		refused(t, real, env, profile(target), "the write grant on "+target+" holds mcpcell's own folder "+filepath.Join(target, "state/mcpcell"))
	})
	t.Run("HOME real, XDG_STATE_HOME through a link, project its target", func(t *testing.T) {
		target, env := viaLink(t)
		_, stderr, rc := mcpcellIn(t, target, real, append(env, noTrustEnv+"=1"), append([]string{"run"}, attack...)...)
		want := "is a folder that holds mcpcell's own " + filepath.Join(target, "state/mcpcell")
		if rc != exitFailed || strings.Contains(stderr, "WROTE") || !strings.Contains(stderr, want) {
			t.Errorf("exit %d; stderr:\n%s\nwant %q", rc, stderr, want)
		}
	})

	// Control: a narrower grant under the linked home runs.
	t.Run("control: HOME a link, XDG moved out, write on ${HOME}/work", func(t *testing.T) {
		path := filepath.Join(project, "work.toml")
		os.WriteFile(path, []byte(profile("${HOME}/work")), 0o600)
		stderr, rc := cellRun(t, project, link, moved, append([]string{"--profile", path}, attack...)...)
		if rc != 0 || !strings.Contains(stderr, "WROTE") {
			t.Errorf("exit %d; stderr:\n%s", rc, stderr)
		}
	})
}

// Attack (review 11b, O2): with HOME a link and no XDG variables, the
// cell's own cache (npm's, pip's, the TMPDIR) was compared as written with
// the resolved grants, seen to lie in mcpcell's own folder, and every start
// of the embedded default was refused. The cell now starts, and writes its
// TMPDIR; another cell's cache stays refused.
func TestCellCacheUnderLinkedHome(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "data", "me")
	link := filepath.Join(base, "homes", "me")
	os.MkdirAll(filepath.Join(real, "proj"), 0o755)
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	noXDG := []string{"XDG_STATE_HOME=", "XDG_CACHE_HOME=", "XDG_CONFIG_HOME="}
	project := filepath.Join(link, "proj")
	t.Run("the embedded default starts", func(t *testing.T) {
		stderr, rc := cellRun(t, project, link, noXDG, "--", "/bin/sh", "-c", `echo x > "$TMPDIR/t" && echo RAN in "$TMPDIR" >&2`)
		if rc != 0 || !strings.Contains(stderr, "RAN in "+filepath.Join(link, ".cache/mcpcell/cells")) {
			t.Errorf("exit %d; stderr:\n%s", rc, stderr)
		}
	})
	t.Run("another cell's cache is still refused", func(t *testing.T) {
		other := filepath.Join(real, ".cache/mcpcell/cells/other")
		os.MkdirAll(other, 0o700)
		path := filepath.Join(project, "p.toml")
		os.WriteFile(path, []byte("include = [\"default\"]\n[filesystem]\nwrite = [\""+filepath.Join(link, ".cache/mcpcell/cells/other")+"\"]\n"), 0o600)
		want := "the write grant on " + other + " lies in mcpcell's own folder " + filepath.Join(real, ".cache/mcpcell")
		for _, args := range [][]string{{"trust", "--yes"}, {"run"}} {
			_, stderr, rc := mcpcellIn(t, project, link, append(noXDG, noTrustEnv+"=1"), append(args, "--profile", path, "--", "/bin/sh", "-c", "echo WROTE >&2")...)
			if rc != exitFailed || strings.Contains(stderr, "WROTE") || !strings.Contains(stderr, want) {
				t.Errorf("%s: exit %d; stderr:\n%s\nwant %q", args[0], rc, stderr, want)
			}
		}
	})
}
