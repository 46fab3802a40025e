package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Issue 10, caches: a server with no network could poison the npm cache a
// more privileged server runs next, when every profile shared one. Each
// profile and project now has its own ${CACHE}: a cell can neither read
// nor write another's.
func TestCachesPerCell(t *testing.T) {
	home := testHome(t)
	projA, projB, projC := t.TempDir(), t.TempDir(), t.TempDir()
	for _, p := range []string{projA, projB} {
		os.WriteFile(filepath.Join(p, ".mcpcell.toml"), []byte("include = [\"default\"]\n"), 0o600)
	}
	cacheOf := func(stderr string) string {
		m := regexp.MustCompile(`CACHE=(\S+)`).FindStringSubmatch(stderr)
		if m == nil {
			t.Fatalf("no CACHE= in:\n%s", stderr)
		}
		return m[1]
	}
	// Cell A plants a file where npx would look for packages.
	stderr, rc := cellRun(t, projA, home, nil, "--", "/bin/sh", "-c", `echo "CACHE=$npm_config_cache" >&2; mkdir -p "$npm_config_cache/_npx" && echo planted > "$npm_config_cache/_npx/evil.js"`)
	if rc != 0 {
		t.Fatalf("cell A: exit %d\n%s", rc, stderr)
	}
	cacheA := cacheOf(stderr)
	if _, err := os.Stat(filepath.Join(cacheA, "_npx", "evil.js")); err != nil {
		t.Fatalf("cell A did not plant: %v", err)
	}
	// Cell B (another profile), and the embedded default in a third
	// project: neither reads nor writes A's cache.
	attack := fmt.Sprintf(`echo "CACHE=$npm_config_cache" >&2; cat %[1]s/_npx/evil.js >&2 && echo READ >&2; echo x > %[1]s/_npx/evil.js && echo WROTE >&2; ls %[1]s >&2 && echo LISTED >&2; true`, cacheA)
	for _, tc := range []struct {
		name string
		dir  string
		args []string
	}{
		{"another profile", projB, nil},
		{"the default in another project", projC, nil},
		{"the same profile file for another project", projB, []string{"--profile", filepath.Join(projA, ".mcpcell.toml"), "--project", projB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{}, tc.args...), "--", "/bin/sh", "-c", attack)
			stderr, rc := cellRun(t, tc.dir, home, nil, args...)
			if rc != 0 {
				t.Fatalf("exit %d\n%s", rc, stderr)
			}
			if c := cacheOf(stderr); c == cacheA {
				t.Errorf("the cell shares A's cache %s", c)
			}
			for _, leak := range []string{"planted", "READ", "WROTE", "LISTED"} {
				if strings.Contains(stderr, leak) {
					t.Errorf("%s: the cell reached A's cache:\n%s", leak, stderr)
				}
			}
		})
	}
	// Control: the same commands read the cache when a profile grants it
	// (a write grant there is refused: it lies in mcpcell's own folder).
	granted := filepath.Join(projB, "granted.toml")
	os.WriteFile(granted, []byte(fmt.Sprintf("include = [\"default\"]\n[filesystem]\nread = [%q]\n", cacheA)), 0o600)
	stderr, _ = cellRun(t, projB, home, nil, "--profile", granted, "--", "/bin/sh", "-c", attack)
	for _, want := range []string{"planted", "READ", "LISTED"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("control: %s missing, so the test proves nothing:\n%s", want, stderr)
		}
	}
}
