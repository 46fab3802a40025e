package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestCheckAndRunAgree shows that check's verdict on a cell is run's, on
// kernels that lack a feature (pretended: the knobs only lower what the
// kernel has): check says refused exactly when run refuses, with the same
// gaps, and weaker exactly when run starts a weaker cell.
func TestCheckAndRunAgree(t *testing.T) {
	abi := func(n string) []string { return []string{"MCPCELL_PRETEND_LANDLOCK_ABI=" + n} }
	noSeccomp := []string{"MCPCELL_PRETEND_NO_SECCOMP=1"}
	for _, c := range []struct {
		name       string
		env        []string
		bestEffort bool
		want       string // "" where this kernel decides
	}{
		{"this kernel", nil, false, ""},
		{"filesystem rules only (ABI 1)", abi("1"), false, "refused"},
		{"no TCP rules (ABI 3)", abi("3"), false, "refused"},
		{"no TCP rules (ABI 3), best effort", abi("3"), true, "weaker"},
		{"no scopes (ABI 5)", abi("5"), false, "refused"},
		{"no scopes (ABI 5), best effort", abi("5"), true, "weaker"},
		{"no seccomp", noSeccomp, false, "refused"},
		{"no seccomp, best effort", noSeccomp, true, "weaker"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := "[network]\nports = [5432]\n"
			if c.bestEffort {
				text += "[sandbox]\nbest_effort = true\n"
			}
			profile := writeProfile(t, text)
			run := cellCommand(t, profile, os.Args[0], "__fakeserver")
			run.Env = append(run.Env, c.env...)
			run.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n")
			var runOut, runErr bytes.Buffer
			run.Stdout, run.Stderr = &runOut, &runErr
			runCode := 0
			if err := run.Run(); err != nil {
				runCode = run.ProcessState.ExitCode()
			}
			check := exec.Command(os.Args[0], "__mcpcell", "check", "--profile", profile)
			check.Env = run.Env
			var checkOut, checkErr bytes.Buffer
			check.Stdout, check.Stderr = &checkOut, &checkErr
			checkCode := 0
			if err := check.Run(); err != nil {
				checkCode = check.ProcessState.ExitCode()
			}

			m := regexp.MustCompile(`(?m)^  enforcement +(full|weaker|refused: this kernel cannot enforce: )(.*)$`).FindStringSubmatch(checkOut.String())
			if m == nil {
				t.Fatalf("check shows no enforcement on Linux:\n%s\n%s", checkOut.String(), checkErr.String())
			}
			checkSays := strings.Fields(m[1])[0]
			checkSays = strings.TrimSuffix(checkSays, ":")
			var runSays, runGaps string
			switch {
			case strings.Contains(runErr.String(), "mcpcell: error: this kernel cannot enforce the cell as written"):
				runSays = "refused"
				var gaps []string
				for _, g := range regexp.MustCompile(`(?m)^mcpcell: error: not enforceable: (.*)$`).FindAllStringSubmatch(runErr.String(), -1) {
					gaps = append(gaps, g[1])
				}
				runGaps = strings.Join(gaps, "; ")
			case strings.Contains(runErr.String(), "mcpcell: warning: [sandbox] best_effort: this cell does not enforce: "):
				runSays = "weaker"
			case strings.Contains(runOut.String(), `"id":1`):
				runSays = "full"
			default:
				t.Fatalf("run (exit %d) neither refused nor served:\n%s", runCode, runErr.String())
			}
			if checkSays != runSays {
				t.Fatalf("check says %s, run says %s\ncheck:\n%s\nrun:\n%s", checkSays, runSays, checkOut.String(), runErr.String())
			}
			if c.want != "" && checkSays != c.want {
				t.Errorf("got %s, want %s", checkSays, c.want)
			}
			switch runSays {
			case "refused":
				if runCode != exitFailed || checkCode != 1 || !strings.Contains(checkErr.String(), "mcpcell run would refuse to start") {
					t.Errorf("refused: run exits %d (want %d), check %d (want 1) saying %q", runCode, exitFailed, checkCode, checkErr.String())
				}
				if m[2] != runGaps {
					t.Errorf("check's gaps are not run's:\ncheck %q\n  run %q", m[2], runGaps)
				}
			default:
				if runCode != 0 || checkCode != 0 {
					t.Errorf("%s: run exits %d, check %d, want 0 and 0:\n%s", runSays, runCode, checkCode, runErr.String())
				}
			}
		})
	}
}
