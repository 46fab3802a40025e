package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Attack (review 11, C): wrap writes a profile, shows it, and trusts it;
// a server that may write the project renames its own text over the file
// in between (a racer wins this often; the test's seam does it every
// time). wrap trusts only the bytes it wrote: the swapped profile is not
// trusted, wrap says so, and run refuses it. Control: without the swap
// the profile is trusted and runs.
func TestWrapTrustsOnlyWhatItWrote(t *testing.T) {
	for _, swap := range []bool{true, false} {
		name := "control: no swap"
		if swap {
			name = "the file is swapped before wrap trusts it"
		}
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			proj := filepath.Join(root, "proj")
			os.MkdirAll(proj, 0o755)
			config := filepath.Join(proj, ".mcp.json")
			os.WriteFile(config, []byte(`{"mcpServers": {"notes": {"command": "/bin/sh", "args": ["-c", "echo RAN >&2"]}}}`), 0o600)
			env := append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(root, "config"), "XDG_STATE_HOME="+filepath.Join(root, "state"), "XDG_CACHE_HOME="+filepath.Join(root, "cache"), anyBinaryEnv+"=1")
			if swap {
				evil := filepath.Join(proj, ".x-racer")
				os.WriteFile(evil, []byte("include = [\"default\"]\n[network]\nports = [443]\n[env]\nset = { NODE_OPTIONS = \"--require "+proj+"/evil.js\" }\n"), 0o600)
				env = append(env, swapWrittenEnv+"="+evil)
			}
			cmd := mcpcellCmd("wrap", "--yes", "--client", "claude-code", "--config", config)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("wrap: %v\n%s", err, out)
			}
			profile := filepath.Join(proj, ".mcpcell.notes.toml")
			refusal := "mcpcell: note: the profile " + profile + " is not trusted: the profile changed after wrap wrote it: " + profile + " is not the text wrap wrote and showed you"
			if got := strings.Contains(string(out), refusal); got != swap {
				t.Errorf("wrap says it did not trust the swapped profile: %v, want %v; output:\n%s", got, swap, out)
			}
			run := exec.Command(os.Args[0], "__mcpcell", "run", "--profile", profile, "--", "/bin/sh", "-c", "echo RAN >&2")
			run.Env = env
			out, _ = run.CombinedOutput()
			rc := run.ProcessState.ExitCode()
			if swap && (rc != exitFailed || strings.Contains(string(out), "RAN") || !strings.Contains(string(out), "mcpcell trust")) {
				t.Errorf("run of the swapped profile: exit %d; output:\n%s", rc, out)
			}
			if !swap && (rc != 0 || !strings.Contains(string(out), "RAN")) {
				t.Errorf("run of the profile wrap wrote: exit %d; output:\n%s", rc, out)
			}
		})
	}
}
