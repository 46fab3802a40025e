package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// listServer lists the folder named by its first argument and reads its
// id_ed25519, or reads the file itself, says what it could, and exits.
const listServer = `const fs = require('fs'), p = process.argv[2];
try {
  if (fs.statSync(p).isDirectory()) { console.error('LIST', fs.readdirSync(p).join(',')); console.error('READ', fs.readFileSync(p + '/id_ed25519', 'utf8')); }
  else console.error('READ', fs.readFileSync(p, 'utf8'));
} catch (e) { console.error('ERR', e.code); }
process.exit(0);
`

// Issue 14 review C, A3: a trusted grant on ${PROJECT}/docs, a plain
// folder when the user approved it, that the repository's next commit
// turns into docs -> ../.ssh: run followed the link and the server read
// the key, with no new trust. run now refuses a grant whose path as
// written is not sensitive but whose resolved path is, names both, and
// says to write the target if it is meant; the server never starts. The
// same for docs -> .. (the home folder, which holds ~/.ssh).
// Controls: the same trusted profile starts with docs a plain folder,
// and with docs a link to a folder that is not sensitive (the trust
// record pins the text, not the target: such a link still follows).
func TestGrantLinkIntoSensitive(t *testing.T) {
	node := systemTool(t, "/usr/bin/node")
	root, _ := filepath.EvalSymlinks(t.TempDir())
	home := filepath.Join(root, "home")
	proj := filepath.Join(home, "p")
	docs := filepath.Join(proj, "docs")
	writeConfig(t, filepath.Join(home, ".ssh/id_ed25519"), "SECRETKEY")
	writeConfig(t, filepath.Join(home, "notes/id_ed25519"), "NOTES")
	writeConfig(t, filepath.Join(docs, "readme"), "docs")
	server := filepath.Join(home, "code/list.js")
	writeConfig(t, server, listServer)
	profile := filepath.Join(proj, ".mcpcell.toml")
	writeConfig(t, profile, "include = [\"node\"]\n[server]\ncwd = \""+filepath.Dir(server)+"\"\n[filesystem]\nread = [\"${PROJECT}/docs\", \""+filepath.Dir(server)+"\"]\n")
	env := homeEnv(home)
	command := []string{node, server, docs}
	trustProfile(t, env, profile, command...)
	run := func() (string, int) {
		_, stderr, code := mcpcellIn(t, proj, home, env[len(env)-4:], append([]string{"run", "--"}, command...)...)
		return stderr, code
	}
	if stderr, code := run(); code != 0 || !strings.Contains(stderr, "LIST readme") || !strings.Contains(stderr, "ERR ENOENT") {
		t.Fatalf("control: docs a plain folder: rc %d\n%s", code, stderr)
	}
	os.RemoveAll(docs)
	if err := os.Symlink("../.ssh", docs); err != nil {
		t.Fatal(err)
	}
	stderr, code := run()
	ssh := filepath.Join(home, ".ssh")
	for _, want := range []string{
		"mcpcell: error: " + profile + ":5: the grant on " + docs + " leads, through a symbolic link, to " + ssh + ", a hidden folder of your home folder (~/.ssh)",
		"mcpcell: hint: if the server should have " + ssh + ", write that path into the profile's [filesystem] in place of " + docs + ", then mcpcell trust; otherwise remove the link",
	} {
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("run with docs -> ../.ssh: rc %d, want %q:\n%s", code, want, stderr)
		}
	}
	if strings.Contains(stderr, "SECRETKEY") || strings.Contains(stderr, "LIST") {
		t.Errorf("the server ran and read ~/.ssh:\n%s", stderr)
	}
	// docs -> .. (the home folder, which holds ~/.ssh): refused too.
	os.Remove(docs)
	if err := os.Symlink("..", docs); err != nil {
		t.Fatal(err)
	}
	if stderr, code := run(); code == 0 || !strings.Contains(stderr, "leads, through a symbolic link, to "+home+", your home folder") || strings.Contains(stderr, "LIST") {
		t.Errorf("run with docs -> ..: rc %d:\n%s", code, stderr)
	}
	t.Run("control: a link to a folder that is not sensitive", func(t *testing.T) {
		os.Remove(docs)
		if err := os.Symlink("../notes", docs); err != nil {
			t.Fatal(err)
		}
		if stderr, code := run(); code != 0 || !strings.Contains(stderr, "READ NOTES") {
			t.Errorf("rc %d:\n%s", code, stderr)
		}
	})
}

// Issue 14 review C, A3, through wrap: wrap grants a repository's
// config.json (read, that file only); the repository's next commit makes
// it a link to ~/.ssh/id_ed25519. run now refuses the start and the
// server never reads the key. Control: before the link, the same wrapped
// entry starts and the server reads the file.
func TestWrapGrantLinkIntoSensitive(t *testing.T) {
	node := systemTool(t, "/usr/bin/node")
	root, _ := filepath.EvalSymlinks(t.TempDir())
	home := filepath.Join(root, "home")
	writeConfig(t, filepath.Join(home, ".ssh/id_ed25519"), "SECRETKEY")
	conf := filepath.Join(home, "work/repo/config.json")
	writeConfig(t, conf, "{}")
	server := filepath.Join(home, "srv/s.js")
	writeConfig(t, server, listServer)
	config := filepath.Join(home, ".cursor/mcp.json")
	writeConfig(t, config, `{"mcpServers": {"c": {"command": `+jsonString(node)+`, "args": [`+jsonString(server)+`, `+jsonString(conf)+`]}}}`)
	self := copyTestBinary(t, filepath.Join(root, "bin", "mcpcell"))
	wrapAsUser(t, home, self, "cursor")
	if got := runEntry(t, home, config, "c"); !strings.Contains(got, "READ {}") {
		t.Fatalf("control: config.json a plain file:\n%s", got)
	}
	os.Remove(conf)
	if err := os.Symlink("../../.ssh/id_ed25519", conf); err != nil {
		t.Fatal(err)
	}
	got := runEntry(t, home, config, "c")
	want := "the grant on " + conf + " leads, through a symbolic link, to " + filepath.Join(home, ".ssh/id_ed25519") + ", a file in a hidden folder of your home folder (~/.ssh)"
	if strings.Contains(got, "SECRETKEY") || !strings.Contains(got, want) {
		t.Errorf("run with config.json -> ~/.ssh/id_ed25519: want %q and no key:\n%s", want, got)
	}
}
