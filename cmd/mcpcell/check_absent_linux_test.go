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

// forgery is a folder name that, printed raw on a terminal, goes back to
// the start of its line, erases it, moves up a line, erases that one (a
// grant of ~/.ssh, sorted just above it) and prints a harmless grant in
// its place (review F2). Git carries such names.
const forgery = "\r\x1b[2K\x1b[1A\x1b[2K  read             "

// A granted path's characters are the file system's, and check and
// trust print them through printable: a project folder whose name holds
// control characters shows as escapes, and the ~/.ssh grant above it
// stays on the screen (check, trust's prompt, and the diff trust shows).
// The control: the same output with the name as the folder has it
// erases the ~/.ssh line on a terminal. A profile that writes such a path
// itself is refused where it is written.
func TestCheckEscapesGrantedPaths(t *testing.T) {
	home := testHome(t)
	ssh := filepath.Join(home, ".ssh")
	os.Mkdir(ssh, 0o700)
	project := filepath.Join(t.TempDir(), forgery, "fake", "docs")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(project, ".mcpcell.toml")
	text := `include = ["default"]
[filesystem]
read = ["${HOME}/.ssh", "${PROJECT}"]
`
	os.WriteFile(profile, []byte(text), 0o600)
	check, checkErr, code := mcpcellIn(t, project, home, nil, "check")
	if code != 0 {
		t.Fatalf("check: %d\n%s", code, checkErr)
	}
	verbose, verboseErr, code := mcpcellIn(t, project, home, nil, "check", "--verbose")
	if code != 0 {
		t.Fatalf("check --verbose: %d\n%s", code, verboseErr)
	}
	trusted, trustErr, code := mcpcellIn(t, project, home, nil, "trust", "--yes")
	if code != 0 {
		t.Fatalf("trust --yes: %d\n%s", code, trustErr)
	}
	// a change, so that trust shows the policy's diff
	os.WriteFile(profile, []byte(text+`write = ["${PROJECT}/out"]
optional = ["${PROJECT}/out"]
`), 0o600)
	diff, diffErr, code := mcpcellIn(t, project, home, nil, "trust", "--yes")
	if code != 0 || !strings.Contains(diff, "+++ ") {
		t.Fatalf("trust --yes after a change: %d, want 0 and a diff:\n%s\n%s", code, diff, diffErr)
	}
	shown := printable(project)
	if shown == project || !strings.ContainsAny(project, "\r\x1b") {
		t.Fatalf("control: the project's path %q holds no control character", project)
	}
	sshLine := regexp.MustCompile(`(?m)^  read +` + regexp.QuoteMeta(ssh) + ` +.+:3$`)
	for name, out := range map[string]string{"check": check, "check's stderr": checkErr, "check --verbose": verbose, "check --verbose's stderr": verboseErr, "trust --yes": trusted, "trust's stderr": trustErr, "trust's diff": diff, "trust's diff's stderr": diffErr} {
		if i := strings.IndexFunc(out, func(r rune) bool { return r != '\n' && invisible(r) }); i >= 0 {
			t.Errorf("%s prints the raw character %q at %d:\n%q", name, out[i:i+1], i, out)
		}
		if strings.Contains(name, "stderr") {
			continue
		}
		if !strings.Contains(out, shown) {
			t.Errorf("%s does not show the project as %s:\n%s", name, shown, out)
		}
		screen := terminal(out)
		if !sshLine.MatchString(screen) {
			t.Errorf("%s on a terminal shows no line for %s:\n%s", name, ssh, screen)
		}
		// The control: the name as the folder has it, printed raw.
		if raw := terminal(strings.ReplaceAll(out, shown, project)); sshLine.MatchString(raw) || !strings.Contains(raw, "  read             /fake/docs") {
			t.Errorf("control: %s with the raw name still shows %s on a terminal, or no forged line:\n%s", name, ssh, raw)
		}
	}

	// An error that names such a path (a grant of a missing one) escapes it
	// too, as every mcpcell: error and hint does.
	missing := filepath.Join(project, ".mcpcell.missing.toml")
	os.WriteFile(missing, []byte("include = [\"default\"]\n[filesystem]\nread = [\"${PROJECT}/missing\"]\n"), 0o600)
	out, stderr, code := mcpcellIn(t, project, home, nil, "check", "--profile", missing)
	if want := "mcpcell: error: " + printable(missing) + ":3: granted path " + printable(filepath.Join(project, "missing")) + ": "; code != exitFailed || !strings.Contains(stderr, want) || strings.ContainsAny(out+stderr, "\r\x1b") {
		t.Errorf("check of a grant of a missing path in the project: exit %d, stderr:\n%q\nwant %d and %q, no raw control character", code, stderr, exitFailed, want)
	}

	// Written in the profile itself, such a path is refused at its line.
	forged := filepath.Join(t.TempDir(), "p")
	os.Mkdir(forged, 0o755)
	os.WriteFile(filepath.Join(forged, ".mcpcell.toml"), []byte("include = [\"default\"]\n[filesystem]\nread = [\"${HOME}/.ssh\", \"${PROJECT}/"+strings.NewReplacer("\r", `\r`, "\x1b", `\u001b`).Replace(forgery)+"/x/docs\"]\n"), 0o600)
	out, stderr, code = mcpcellIn(t, forged, home, nil, "check")
	want := filepath.Join(forged, ".mcpcell.toml") + `:3: filesystem.read: "${PROJECT}/\r\x1b[2K\x1b[1A\x1b[2K  read             /x/docs" holds the character U+000D: a granted path may not hold control or bidi characters`
	if code != exitFailed || !strings.Contains(stderr, want) || strings.ContainsAny(out+stderr, "\r\x1b") {
		t.Errorf("check of a profile that writes a control character in a path: exit %d, stderr:\n%s\nwant %d and %s, no raw control character", code, stderr, exitFailed, want)
	}
}

// terminal is what a terminal shows for out: it moves to the start of the
// line on \r, up on ESC[nA, erases on ESC[2K and ESC[K, drops other
// escape sequences (the reviewer's render.py).
func terminal(out string) string {
	lines := [][]rune{nil}
	row, col := 0, 0
	csi := regexp.MustCompile(`^\x1b\[([0-9;]*)([A-Za-z])`)
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		if rs[i] == 0x1b {
			if m := csi.FindStringSubmatch(string(rs[i:])); m != nil {
				switch m[2] {
				case "A":
					n, _ := strconv.Atoi(m[1])
					row = max(0, row-max(n, 1))
				case "K":
					if m[1] == "2" {
						lines[row] = nil
					} else if col < len(lines[row]) {
						lines[row] = lines[row][:col]
					}
				}
				i += len([]rune(m[0])) - 1
				continue
			}
		}
		switch rs[i] {
		case '\r':
			col = 0
		case '\n':
			row, col = row+1, 0
			for len(lines) <= row {
				lines = append(lines, nil)
			}
		default:
			for len(lines[row]) < col {
				lines[row] = append(lines[row], ' ')
			}
			if col < len(lines[row]) {
				lines[row][col] = rs[i]
			} else {
				lines[row] = append(lines[row], rs[i])
			}
			col++
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(string(l), " ") + "\n")
	}
	return b.String()
}
