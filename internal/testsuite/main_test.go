package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/syncbuf"
	"github.com/mcpcell/mcpcell/internal/testhome"
)

func TestMain(m *testing.M) { os.Exit(testhome.Run(m)) }

// suiteRun runs testsuite on go test's arguments args, as root or not,
// and returns its status, its output and the last line.
func suiteRun(t *testing.T, root bool, args ...string) (int, string, string) {
	t.Helper()
	var out, errs syncbuf.Buffer
	rc := run(append([]string{"-heartbeat", "1s"}, args...), &out, &errs, root)
	text := out.String()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	t.Logf("testsuite %s: status %d\n%s\nstderr:\n%s", strings.Join(args, " "), rc, text, errs.String())
	return rc, text, lines[len(lines)-1]
}

// TestSummary: every way a test ends is counted and shown, and only a
// run with nothing failed and nothing skipped exits 0.
func TestSummary(t *testing.T) {
	for _, c := range []struct {
		name, cases string
		root        bool
		pkgs        []string
		rc          int
		last        string
		shows       []string // in the output
		hides       []string // not in the output
	}{
		{name: "all pass", pkgs: []string{"./testdata/cases"}, rc: 0,
			last:  "tests: 6 passed, 0 failed, 0 skipped (1 packages, ",
			hides: []string{"a line from the passing test", "=== FAILED", "=== SKIPPED"}},
		{name: "a subtest fails", cases: "fail", pkgs: []string{"./testdata/cases"}, rc: 1,
			last:  "tests: 5 passed, 2 failed, 0 skipped (1 packages, ",
			shows: []string{"=== FAILED: TestFails (github.com/mcpcell/mcpcell/internal/testsuite/testdata/cases)", "the failing subtest's own line", "the failing test's line"},
			hides: []string{"a line from the passing test"}},
		{name: "a subtest skips", cases: "skip", pkgs: []string{"./testdata/cases"}, rc: 1,
			last:  "tests: 6 passed, 0 failed, 1 skipped (1 packages, ",
			shows: []string{"=== SKIPPED: TestSkips/inner (", "skipped: a subtest's component is missing"}},
		{name: "needs root, as root: a skip", cases: "root", root: true, pkgs: []string{"./testdata/cases"}, rc: 1,
			last:  "tests: 4 passed, 0 failed, 2 skipped (1 packages, ",
			shows: []string{"=== SKIPPED: TestNeedsRoot (", "skipped: needs root to become uid 65534"}},
		{name: "needs root, not root: named, not run", cases: "root", pkgs: []string{"./testdata/cases"}, rc: 0,
			last:  "tests: 4 passed, 0 failed, 0 skipped, 2 not run (need root) (1 packages, ",
			shows: []string{"=== NOT RUN, these need root", "    TestNeedsRoot (github.com/mcpcell/mcpcell/internal/testsuite/testdata/cases)", "    TestOnlyRoot ("}},
		{name: "a package does not build", pkgs: []string{"./testdata/cases", "./testdata/broken"}, rc: 1,
			last:  "tests: 6 passed, 1 failed, 0 skipped (2 packages, ",
			shows: []string{"=== FAILED: package github.com/mcpcell/mcpcell/internal/testsuite/testdata/broken, outside its tests", "undefined: undefinedName"}},
		{name: "no such package", pkgs: []string{"./testdata/nosuch"}, rc: 1,
			last:  "tests: 0 passed, 1 failed, 0 skipped (",
			shows: []string{"=== FAILED"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TESTSUITE_CASES", c.cases)
			rc, out, last := suiteRun(t, c.root, append([]string{"-count=1"}, c.pkgs...)...)
			if rc != c.rc || !strings.HasPrefix(last, c.last) || !strings.HasSuffix(last, " s)") {
				t.Errorf("status %d, last line %q; want %d, %q…", rc, last, c.rc, c.last)
			}
			for _, s := range c.shows {
				if !strings.Contains(out, s) {
					t.Errorf("the output does not show %q", s)
				}
			}
			for _, s := range c.hides {
				if strings.Contains(out, s) {
					t.Errorf("the output shows %q", s)
				}
			}
		})
	}
}

// TestCanary: a test binary that writes into HOME without testhome is
// caught, every path named; the control, the same test with testhome,
// leaves the canary as it was and passes.
func TestCanary(t *testing.T) {
	for _, c := range []struct {
		name, plain string
		rc          int
		changes     []string // under the canary
	}{
		{"without testhome", "1", 1, []string{"changed .", "created .cache", "created .cache/homewriter", "changed canary", "created written-by-a-test"}},
		{"with testhome", "", 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			canary := t.TempDir()
			if err := os.WriteFile(filepath.Join(canary, "canary"), []byte("unchanged\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("HOMEWRITER_PLAIN", c.plain)
			rc, out, last := suiteRun(t, true, "-canary", canary, "-count=1", "./testdata/homewriter")
			if rc != c.rc {
				t.Errorf("status %d, want %d", rc, c.rc)
			}
			var got []string
			for _, l := range strings.Split(out, "\n") {
				if rest, ok := strings.CutPrefix(l, "    "); ok {
					verb, path, _ := strings.Cut(rest, " ")
					rel, err := filepath.Rel(canary, path)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, verb+" "+rel)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.changes, "\n") {
				t.Errorf("changes named:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.changes, "\n"))
			}
			if c.changes != nil && !strings.Contains(last, fmt.Sprintf("HOME touched (%d paths)", len(c.changes))) {
				t.Errorf("last line %q does not say HOME was touched", last)
			}
			if b, err := os.ReadFile(filepath.Join(canary, "canary")); err != nil || string(b) != "unchanged\n" {
				t.Errorf("the canary file: %q, %v", b, err)
			}
		})
	}
}
