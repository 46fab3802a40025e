package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Attack (review 11, A): a server replaces a folder it may write, or one
// a grant passes through, with a symbolic link to ~/.ssh. The profile's
// bytes stay the same and it stays trusted; at the next start the grant
// would follow the link and the cell would reach ~/.ssh. Every grant
// whose path passes through a link in a folder the server can write is
// refused at start (and by check and trust), naming the grant and the
// link; the same link made by the user outside every write grant works.
func TestGrantThroughServerLink(t *testing.T) {
	// One home a case, so that each has one cell; the paths are the same.
	base := t.TempDir()
	home := filepath.Join(base, "home")
	ssh := filepath.Join(home, ".ssh")
	// A folder with the names the attacks need, for links in the middle.
	vault := filepath.Join(home, "vault")
	newHome := func() {
		os.RemoveAll(home)
		os.MkdirAll(ssh, 0o700)
		os.WriteFile(filepath.Join(ssh, "id_rsa"), []byte("PRIVATE-KEY\n"), 0o600)
		os.MkdirAll(filepath.Join(vault, "_npx"), 0o700)
		os.WriteFile(filepath.Join(vault, "_npx", "id_rsa"), []byte("PRIVATE-KEY\n"), 0o600)
	}
	sh := func(script string) []string { return []string{"--", "/bin/sh", "-c", script} }
	python := systemTool(t, "/usr/bin/python3")

	for _, tc := range []struct {
		name    string
		extra   string // the profile after include = ["default"]
		swap    string // session 1: the server plants the link (Python)
		steal   string // session 2: the server reads through the grant
		outside string // a link the user made outside every write grant (the first link of a chain)
		want    string // in the refusal
	}{{
		name:  "the cache grant _npx is a link (last component)",
		swap:  `swap("$npm_config_cache/_npx", "` + ssh + `")`,
		steal: `cat "$npm_config_cache/_npx/id_rsa"`,
		want:  "preset:node:26: the granted path %CACHE%/npm/_npx is a symbolic link (to " + ssh + ")",
	}, {
		name:  "the cache folder npm is a link (middle component)",
		extra: "[filesystem]\nwrite = [\"${CACHE}\"]\n", // the cache's root is not writable unless granted
		swap:  `swap("$npm_config_cache", "` + vault + `")`,
		steal: `cat "$npm_config_cache/_npx/id_rsa"`,
		want:  "symbolic link (to " + vault + ")",
	}, {
		name:  "a link chain in the cache",
		swap:  `swap("$npm_config_cache/hop", "` + ssh + `"); swap("$npm_config_cache/_npx", "$npm_config_cache/hop")`,
		steal: `cat "$npm_config_cache/_npx/id_rsa"`,
		want:  "symbolic link (to %CACHE%/npm/hop)",
	}, {
		name:  "the TMPDIR is a link",
		extra: "[filesystem]\nwrite = [\"${CACHE}\"]\n",
		swap:  `swap("$TMPDIR", "` + ssh + `")`,
		steal: `cat "$TMPDIR/id_rsa"`,
		want:  "the cell's TMPDIR: the granted path %CACHE%/tmp is a symbolic link (to " + ssh + ")",
	}, {
		name:  "a write grant in the project is a link",
		extra: "[filesystem]\nwrite = [\"${PROJECT}/out\"]\n",
		swap:  `swap("out", "` + ssh + `")`,
		steal: `cat out/id_rsa && echo x >> out/authorized_keys`,
		want:  "%PROFILE%:3: the granted path %PROJECT%/out is a symbolic link (to " + ssh + ")",
	}, {
		name:  "a read grant inside the project's write grant is a link",
		extra: "[filesystem]\nread = [\"${PROJECT}/docs\"]\n",
		swap:  `swap("docs", "` + ssh + `")`,
		steal: `cat docs/id_rsa`,
		want:  "%PROFILE%:3: the granted path %PROJECT%/docs is a symbolic link",
	}, {
		name:  "an exec grant inside the project's write grant is a link",
		extra: "[filesystem]\nexec = [\"${PROJECT}/bin\"]\n",
		swap:  `swap("bin", "` + ssh + `")`,
		steal: `cat bin/id_rsa`,
		want:  "%PROFILE%:3: the granted path %PROJECT%/bin is a symbolic link",
	}, {
		name:  "a file granted singly is a link",
		extra: "[filesystem]\nread = [\"${PROJECT}/docs/key.pem\"]\n",
		swap:  `swap("docs/key.pem", "` + filepath.Join(ssh, "id_rsa") + `")`,
		steal: `cat docs/key.pem`,
		want:  "%PROFILE%:3: the granted path %PROJECT%/docs/key.pem is a symbolic link (to " + filepath.Join(ssh, "id_rsa") + ")",
	}, {
		name:  "a link in the middle of a read grant, in the project",
		extra: "[filesystem]\nread = [\"${PROJECT}/docs/_npx\"]\n",
		swap:  `swap("docs", "` + vault + `")`,
		steal: `cat docs/_npx/id_rsa`,
		want:  "%PROFILE%:3: the grant on %PROJECT%/docs/_npx passes through the symbolic link %PROJECT%/docs (to " + vault + ")",
	}, {
		name:    "the user's link outside leads to a link the server made",
		extra:   "[filesystem]\nread = [\"%OUTSIDE%/link\"]\n",
		outside: "%PROJECT%/docs",
		swap:    `swap("docs", "` + ssh + `")`,
		steal:   `cat %OUTSIDE%/link/id_rsa`,
		want:    "%PROFILE%:3: the grant on %OUTSIDE%/link passes through the symbolic link %PROJECT%/docs (to " + ssh + ")",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			newHome()
			project := t.TempDir()
			outside := t.TempDir()
			os.MkdirAll(filepath.Join(project, "out"), 0o700)
			os.MkdirAll(filepath.Join(project, "docs"), 0o700)
			os.MkdirAll(filepath.Join(project, "bin"), 0o700)
			os.WriteFile(filepath.Join(project, "docs", "key.pem"), []byte("not a secret\n"), 0o600)
			os.MkdirAll(filepath.Join(project, "docs", "_npx"), 0o700)
			profile := filepath.Join(project, ".mcpcell.toml")
			expand := strings.NewReplacer("%PROJECT%", project, "%OUTSIDE%", outside, "%PROFILE%", profile)
			if tc.outside != "" {
				if err := os.Symlink(expand.Replace(tc.outside), filepath.Join(outside, "link")); err != nil {
					t.Fatal(err)
				}
			}
			os.WriteFile(profile, []byte("include = [\"default\"]\n"+expand.Replace(tc.extra)), 0o600)
			stderr, rc := cellRun(t, project, home, nil, "--profile", profile, "--", python, "-c", swapPy+tc.swap)
			if rc != 0 || !strings.Contains(stderr, "SWAPPED") {
				t.Fatalf("session 1 (the server plants the link): exit %d; stderr:\n%s", rc, stderr)
			}
			cache := theCellCache(t, home)
			want := strings.NewReplacer("%CACHE%", cache).Replace(expand.Replace(tc.want))
			stderr, rc = cellRun(t, project, home, nil, append([]string{"--profile", profile}, sh(expand.Replace(tc.steal))...)...)
			if rc != exitFailed || strings.Contains(stderr, "PRIVATE-KEY") || !strings.Contains(stderr, want) || !strings.Contains(stderr, "mcpcell: hint: remove the link") {
				t.Errorf("session 2 (through the link): exit %d; stderr:\n%s\nwant exit %d and %q", rc, stderr, exitFailed, want)
			}
			if b, _ := os.ReadFile(filepath.Join(ssh, "authorized_keys")); len(b) > 0 {
				t.Errorf("the cell wrote ~/.ssh/authorized_keys")
			}
			for _, cmd := range [][]string{{"check", "--profile", profile}, {"trust", "--yes", "--profile", profile, "--", "/bin/true"}} {
				_, stderr, rc := mcpcellIn(t, project, home, nil, cmd...)
				if rc == 0 || !strings.Contains(stderr, want) {
					t.Errorf("%s: exit %d; stderr:\n%s\nwant %q", cmd[0], rc, stderr, want)
				}
			}
		})
	}

	// Control: a link the user made outside every write grant (as in
	// /opt) is followed as before.
	t.Run("control: the user's link outside every write grant", func(t *testing.T) {
		newHome()
		project, outside := t.TempDir(), t.TempDir()
		shared := filepath.Join(outside, "shared")
		os.MkdirAll(shared, 0o755)
		os.WriteFile(filepath.Join(shared, "readme"), []byte("SHARED-TEXT\n"), 0o644)
		os.Symlink(shared, filepath.Join(outside, "link"))
		profile := filepath.Join(project, ".mcpcell.toml")
		os.WriteFile(profile, []byte(fmt.Sprintf("include = [\"default\"]\n[filesystem]\nread = [%q]\n", filepath.Join(outside, "link"))), 0o600)
		stderr, rc := cellRun(t, project, home, nil, append([]string{"--profile", profile}, sh("cat "+filepath.Join(outside, "link", "readme")+" >&2")...)...)
		if rc != 0 || !strings.Contains(stderr, "SHARED-TEXT") {
			t.Errorf("exit %d; stderr:\n%s", rc, stderr)
		}
	})
}

// cellCache is the one cell's cache under home (the test makes one cell
// per home and project).
func theCellCache(t *testing.T, home string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(home, ".cache", "mcpcell", "cells", "*"))
	if len(m) == 0 {
		t.Fatalf("no cell cache under %s", home)
	}
	return m[len(m)-1]
}

// swapPy replaces a path the server may write with a symbolic link.
const swapPy = `import os, shutil, sys
def swap(path, target):
    path, target = os.path.expandvars(path), os.path.expandvars(target)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)
    print("SWAPPED " + path, file=sys.stderr)
`
