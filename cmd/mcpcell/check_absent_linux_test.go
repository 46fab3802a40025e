package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A profile file's grant of an optional path absent now takes effect
// the day the path appears, with no byte of the trusted profile changed:
// check's default view, which is trust's approval screen, lists it with
// its access and line (review F1: it was one count with the presets', so
// trust approved ~/.aws unseen). The control: the embedded presets'
// absent paths, mcpcell's own and the same for everyone, are still one
// count, and none of them is listed.
func TestCheckListsAbsentGrants(t *testing.T) {
	home := testHome(t)
	project := t.TempDir()
	profile := filepath.Join(project, ".mcpcell.toml")
	os.WriteFile(profile, []byte(`include = ["default"]
[filesystem]
read = ["${HOME}/.aws", "${HOME}/.config/gcloud", "${HOME}/.kube/config"]
write = ["${HOME}/Documents"]
optional = ["${HOME}/.aws", "${HOME}/.config/gcloud", "${HOME}/.kube/config", "${HOME}/Documents"]
`), 0o600)
	q := regexp.QuoteMeta
	grants := []string{
		fmt.Sprintf(`(?m)^  read +%s \(optional, absent here: granted once it exists\) +%s:3$`, q(filepath.Join(home, ".aws")), q(profile)),
		fmt.Sprintf(`(?m)^  read +%s \(optional, absent here: granted once it exists\) +%s:3$`, q(filepath.Join(home, ".config", "gcloud")), q(profile)),
		fmt.Sprintf(`(?m)^  read +%s \(optional, absent here: granted once it exists\) +%s:3$`, q(filepath.Join(home, ".kube", "config")), q(profile)),
		fmt.Sprintf(`(?m)^  read\+write +%s \(optional, absent here: granted once it exists\) +%s:4$`, q(filepath.Join(home, "Documents")), q(profile)),
	}

	check, stderr, code := mcpcellIn(t, project, home, nil, "check")
	if code != 0 {
		t.Fatalf("check: %d\n%s", code, stderr)
	}
	// trust's prompt, on a terminal, answered no
	master, tty := openPty(t)
	master.Write([]byte("n\n"))
	prompt, stderr, code := mcpcellStdin(t, tty, project, home, nil, "trust")
	if code != 1 || !strings.Contains(stderr, "trust this? [y/N]") || !strings.Contains(stderr, "mcpcell: nothing trusted") {
		t.Fatalf("trust, answered no: exit %d, stderr:\n%s\nwant 1, the question and nothing trusted", code, stderr)
	}
	yes, stderr, code := mcpcellIn(t, project, home, nil, "trust", "--yes")
	if code != 0 {
		t.Fatalf("trust --yes: %d\n%s", code, stderr)
	}
	for name, out := range map[string]string{"check": check, "trust's prompt": prompt, "trust --yes": yes} {
		for _, want := range grants {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("%s has no line %s:\n%s", name, want, out)
			}
		}
	}

	// The control: the presets' absent paths, as --verbose lists them
	// (skipped, from preset:…), are counted in the default view.
	verbose, stderr, code := mcpcellIn(t, project, home, nil, "check", "--verbose")
	if code != 0 {
		t.Fatalf("check --verbose: %d\n%s", code, stderr)
	}
	ours := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  skipped +(/\S*) \(optional, missing\) +(\S+)$`).FindAllStringSubmatch(verbose, -1) {
		if strings.HasPrefix(m[2], "preset:") {
			ours[m[1]] = true
		} else if !strings.HasPrefix(m[2], profile+":") {
			t.Errorf("check --verbose skips %s from %s, neither a preset nor the profile", m[1], m[2])
		}
	}
	if len(ours) == 0 {
		t.Fatalf("check --verbose skips no preset's path here; the control needs one:\n%s", verbose)
	}
	count := regexp.MustCompile(`(?m)^  optional +(\d+) optional paths of mcpcell's presets are absent here; --verbose lists them$`).FindStringSubmatch(check)
	if count == nil || count[1] != strconv.Itoa(len(ours)) {
		t.Errorf("check counts the presets' absent paths as %q, want %d:\n%s", count, len(ours), check)
	}
	sections := checkSections(check)
	for path := range ours {
		if fieldCount(sections, path) != 0 {
			t.Errorf("check lists the preset's absent %s, want it only counted", path)
		}
	}
}
