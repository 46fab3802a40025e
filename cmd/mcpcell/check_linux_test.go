package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// checkSections is the text of check's [filesystem] and [cell] sections,
// where each granted path is shown.
func checkSections(out string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "[filesystem]"), strings.HasPrefix(l, "[cell]"):
			in = true
		case strings.HasPrefix(l, "["), l == "":
			in = false
		}
		if in {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// fieldCount counts the lines of text that hold path as a whole field
// (split at blanks and commas, parentheses trimmed).
func fieldCount(text, path string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		for _, f := range strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
			if strings.Trim(f, "()") == path {
				n++
			}
		}
	}
	return n
}

// check's default view shows each path the server gets once, with every
// line that grants it, the presets' optional paths absent here as a
// count (the profile's own listed as absent), and
// no symlink detail; --verbose shows what it showed before: each grant
// as written, the optional ones, and the cell's rules with their links.
func TestCheckEachPathOnce(t *testing.T) {
	project := t.TempDir()
	home := testHome(t)
	data := filepath.Join(project, "data")
	os.Mkdir(data, 0o755)
	os.Symlink(data, filepath.Join(project, "alias"))
	other := filepath.Join(project, "other")
	os.Mkdir(other, 0o755)
	os.Symlink(other, filepath.Join(project, "link"))
	profile := filepath.Join(project, ".mcpcell.toml")
	// (base, not default: a link in a folder the server can write is refused)
	os.WriteFile(profile, []byte(`include = ["base"]
# line 2
[filesystem]
read = ["${PROJECT}/alias", "${PROJECT}/nope", "${PROJECT}/link"]
exec = ["${PROJECT}/data"]
optional = ["${PROJECT}/nope"]
`), 0o600)
	out, stderr, code := mcpcellIn(t, project, home, nil, "check", "--profile", profile)
	if code != 0 {
		t.Fatalf("check: %d\n%s", code, stderr)
	}
	verbose, stderr, code := mcpcellIn(t, project, home, nil, "check", "--verbose", "--profile", profile)
	if code != 0 {
		t.Fatalf("check --verbose: %d\n%s", code, stderr)
	}

	// Every path of the cell's rules, as --verbose lists them.
	rule := regexp.MustCompile(`(?m)^  (read|read\+write|read\+exec|read\+write\+exec) +(?:.* -> )?(/\S*)`)
	var paths []string
	cell := verbose[strings.Index(verbose, "\n[cell]"):]
	for _, m := range rule.FindAllStringSubmatch(cell, -1) {
		paths = append(paths, m[2])
	}
	sections := checkSections(out)
	for _, p := range paths {
		if n := fieldCount(sections, p); n != 1 {
			t.Errorf("check shows %s %d times in [filesystem] and [cell], want once", p, n)
		}
		if n := fieldCount(checkSections(verbose), p); n < 2 && p == data {
			t.Errorf("control: check --verbose shows %s %d times, want the grant and the rule", p, n)
		}
	}
	if len(paths) < 20 || !slices.Contains(paths, data) || !slices.Contains(paths, other) || !slices.Contains(paths, "/usr/lib") {
		t.Errorf("check --verbose lists the rules %q, want the base preset's, %s and %s", paths, data, other)
	}

	q := regexp.QuoteMeta
	for _, want := range []string{
		// both lines that grant it, one through a link
		fmt.Sprintf(`(?m)^  read\+exec +%s +%s:4, %s:5$`, q(data), q(profile), q(profile)),
		// granted only through a link: the name it was written as
		fmt.Sprintf(`(?m)^  read +%s \(as %s\) +%s:4$`, q(other), q(filepath.Join(project, "link")), q(profile)),
		`(?m)^  read\+exec +/usr/lib +preset:base:\d+, preset:base:\d+$`,
		`(?m)^  read\+write +/dev/null +preset:base:\d+$`,
		`(?m)^  optional +\d+ optional paths of mcpcell's presets are absent here; --verbose lists them$`,
		// the profile's own absent grant is listed, not counted (review F1)
		fmt.Sprintf(`(?m)^  read +%s \(optional, absent here: granted once it exists\) +%s:4$`, q(filepath.Join(project, "nope")), q(profile)),
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("check has no line %s:\n%s", want, out)
		}
	}
	for _, absent := range []string{"skipped", " -> ", "syscalls denied"} {
		if strings.Contains(out, absent) {
			t.Errorf("check shows %q, which only --verbose shows:\n%s", absent, out)
		}
	}
	for _, want := range []string{
		fmt.Sprintf(`(?m)^  read\+exec +%s, %s -> %s$`, q(filepath.Join(project, "alias")), q(data), q(data)),
		fmt.Sprintf(`(?m)^  read +%s -> %s$`, q(filepath.Join(project, "link")), q(other)),
		fmt.Sprintf(`(?m)^  skipped +%s \(optional, missing\) +%s:4$`, q(filepath.Join(project, "nope")), q(profile)),
		fmt.Sprintf(`(?m)^  optional +%s +%s:6$`, q(filepath.Join(project, "nope")), q(profile)),
		`(?m)^  syscalls denied +`,
	} {
		if !regexp.MustCompile(want).MatchString(verbose) {
			t.Errorf("check --verbose lacks %q:\n%s", want, verbose)
		}
	}
	if a, b := strings.Count(out, "\n"), strings.Count(verbose, "\n"); a*2 > b {
		t.Errorf("check prints %d lines, --verbose %d: want the default well under half", a, b)
	}
}
