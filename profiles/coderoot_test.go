package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CodeRoot names the installed packages a file's code imports from (the
// outermost node_modules), else its package's folder; never a folder too
// wide to grant (a home folder, one above it, one of its hidden folders
// itself, a folder in or over mcpcell's own), for which it falls back to
// a narrower one and says why.
func TestCodeRoot(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	home := filepath.Join(root, "home")
	f := Folders{Homes: []string{home}, Own: []string{filepath.Join(home, ".config", "mcpcell"), filepath.Join(root, "xdg", "state", "mcpcell")}}
	file := func(p string) string {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, m := range []string{
		"x/node_modules/@s/p/package.json", "src/srv/package.json", "home/package.json", "home/.config/package.json",
		"xdg/package.json", "home/.config/mcpcell/package.json", "py/pyproject.toml",
	} {
		file(m)
	}
	link := filepath.Join(root, "link.js")
	if err := os.Symlink(file("x/node_modules/@s/p/dist/index.js"), link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file, root, wide string // root and wide relative to the test's folder
	}{
		{"x/node_modules/@s/p/dist/index.js", "x/node_modules", ""},
		{"x/node_modules/a/node_modules/b/i.js", "x/node_modules", ""},
		{"link.js", "x/node_modules", ""},
		{"src/srv/dist/index.js", "src/srv", ""},
		{"py/pkg/server.py", "py", ""},
		{"loose/server.js", "loose", ""},
		{"home/node_modules/p/i.js", "home/node_modules", ""},
		{"home/.nvm/versions/node/v20/lib/node_modules/p/i.js", "home/.nvm/versions/node/v20/lib/node_modules", ""},
		// A package.json in the home folder: its folder, then the file.
		{"home/proj/dist/index.js", "home/proj/dist", "home is your home folder"},
		{"home/server.js", "home/server.js", "home is your home folder"},
		{"home/.config/tool/i.js", "home/.config/tool", "home/.config is a hidden folder of your home folder (~/.config)"},
		{"xdg/srv/i.js", "xdg/srv", "xdg is a folder that holds mcpcell's own " + root + "/xdg/state/mcpcell"},
		{"home/.config/mcpcell/x/i.js", "", "home/.config/mcpcell is in mcpcell's own folder " + home + "/.config/mcpcell"},
	} {
		path := filepath.Join(root, c.file)
		if _, err := os.Lstat(path); err != nil {
			file(c.file)
		}
		want, wantWide := "", ""
		if c.root != "" {
			want = filepath.Join(root, c.root)
		}
		if c.wide != "" {
			wantWide = root + "/" + c.wide
		}
		got, wide := f.CodeRoot(path)
		if got != want || wide != wantWide {
			t.Errorf("CodeRoot(%s) = %q, %q; want %q, %q", c.file, got, wide, want, wantWide)
		}
	}
	for _, c := range []struct{ dir, want string }{
		{"/", "the root folder"},
		{root, "a folder above your home folder"},
		{home, "your home folder"},
		{home + "/.ssh", "a hidden folder of your home folder (~/.ssh)"},
		{home + "/.ssh/keys", ""},
		{home + "/src", ""},
	} {
		if got := f.Wide(c.dir); !strings.HasPrefix(got, c.want) || c.want == "" && got != "" {
			t.Errorf("Wide(%s) = %q, want %q", c.dir, got, c.want)
		}
	}
}

// UserFolders, for wrap, are those a profile loaded in the same
// environment has.
func TestUserFolders(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"HOME": home, "XDG_STATE_HOME": filepath.Join(home, "st")}
	f := UserFolders(func(k string) string { return env[k] })
	want := []string{filepath.Join(home, "st", "mcpcell"), filepath.Join(home, ".config", "mcpcell"), filepath.Join(home, ".cache", "mcpcell")}
	for _, w := range want {
		if !strings.Contains(strings.Join(f.Own, "\n")+"\n", w+"\n") {
			t.Errorf("own folders %q lack %s", f.Own, w)
		}
	}
	if len(f.Homes) == 0 || f.Homes[0] != home {
		t.Errorf("homes %q, want %s first", f.Homes, home)
	}
}

// Issue 14 review, F5: the code root never climbs to a folder every user
// may write (a package.json another user planted in /tmp), and Wide
// refuses system and shared folders themselves, and those that hold the
// system's settings. Control: the same layout in a folder of the user's
// own (mode 0755) is a package whose root is granted.
func TestCodeRootSharedFolder(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	f := Folders{Homes: []string{filepath.Join(root, "home")}}
	for _, c := range []struct {
		name string
		mode os.FileMode
		want string // relative to the test's folder
		wide string
	}{
		{"a manifest in a shared folder", 0o777 | os.ModeSticky, "shared/mine", ""},
		{"a manifest in a world-writable folder", 0o777, "shared/mine", ""},
		{"control: a manifest in the user's folder", 0o755, "shared", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			shared := filepath.Join(root, "shared")
			os.RemoveAll(shared)
			if err := os.MkdirAll(filepath.Join(shared, "mine"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(shared, "package.json"), []byte("{}"), 0o644)
			os.WriteFile(filepath.Join(shared, "mine", "index.js"), nil, 0o644)
			if err := os.Chmod(shared, c.mode); err != nil {
				t.Fatal(err)
			}
			got, wide := f.CodeRoot(filepath.Join(shared, "mine", "index.js"))
			if got != filepath.Join(root, c.want) || wide != c.wide {
				t.Errorf("CodeRoot = %q, %q; want %s", got, wide, c.want)
			}
			if why := f.Wide(shared); (why != "") != (c.mode&0o002 != 0) {
				t.Errorf("Wide(%s mode %v) = %q", shared, c.mode, why)
			}
		})
	}
	for _, c := range []struct{ dir, want string }{
		{"/tmp", "a system folder (/tmp)"},
		{"/var/tmp", "a system folder (/var/tmp)"},
		{"/dev/shm", "a system folder (/dev/shm)"},
		{"/usr", "a system folder (/usr)"},
		{"/opt", "a system folder (/opt)"},
		{"/var", "a system folder (/var)"},
		{"/etc", "a system folder (/etc)"},
		{"/etc/ssl/private", "in a system folder (/etc)"},
		{"/run/user", "in a system folder (/run)"},
		// Installed packages and programs stay grantable.
		{"/usr/lib/node_modules", ""},
		{"/usr/local/lib/node_modules", ""},
		{"/opt/tool", ""},
	} {
		// A home outside the test's folder (in /tmp): /tmp is above it.
		sys := Folders{Homes: []string{"/home/mcpcell-test-nobody"}}
		if got := sys.Wide(c.dir); got != c.want {
			t.Errorf("Wide(%s) = %q, want %q", c.dir, got, c.want)
		}
	}
}

// Issue 14 review, F4: a folder wrap grants write on (one on a server's
// command line) is neither wide (/, a home folder or above it, a system
// folder) nor sensitive: a hidden folder of a home folder or any folder
// in one (~/.ssh: authorized_keys, config's ProxyCommand run outside the
// cell), a folder in or over mcpcell's own. Sensitive is the same for a
// file that is no server's code (read): ~/.netrc, ~/.aws/credentials.
func TestWideWriteAndSensitive(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	home := filepath.Join(root, "home")
	own := filepath.Join(home, "state", "mcpcell")
	f := Folders{Homes: []string{home}, Own: []string{own}}
	// A link that leads into ~/.ssh is ~/.ssh.
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), nil, 0o600)
	if err := os.Symlink(filepath.Join(home, ".ssh"), filepath.Join(root, "keys")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, want string }{
		{"/", "the root folder"},
		{root, "a folder above your home folder"},
		{home, "your home folder"},
		{home + "/.ssh", "in a hidden folder of your home folder (~/.ssh)"},
		{home + "/.aws/x", "in a hidden folder of your home folder (~/.aws)"},
		{home + "/.config/gh", "in a hidden folder of your home folder (~/.config)"},
		{"/etc", "a system folder (/etc)"},
		{"/usr/local/share", "a system folder (/usr)"},
		{home + "/state", "a folder that holds mcpcell's own " + own},
		{own + "/audit", "in mcpcell's own folder " + own},
		{root + "/keys", "in a hidden folder of your home folder (~/.ssh)"},
		// Control: ordinary folders are granted.
		{home + "/work/data", ""},
		{root + "/elsewhere", ""},
	} {
		if got := f.WideWrite(c.dir); got != c.want {
			t.Errorf("WideWrite(%s) = %q, want %q", c.dir, got, c.want)
		}
	}
	for _, c := range []struct{ file, want string }{
		{home + "/.netrc", "a hidden file of your home folder (~/.netrc)"},
		{home + "/.ssh/id_ed25519", "a file in a hidden folder of your home folder (~/.ssh)"},
		{home + "/.config/gh/hosts.yml", "a file in a hidden folder of your home folder (~/.config)"},
		{own + "/trust/x", "a file in mcpcell's own folder " + own},
		{root + "/keys/id_ed25519", "a file in a hidden folder of your home folder (~/.ssh)"},
		// Control: a data file.
		{home + "/work/data.sqlite", ""},
	} {
		if got := f.Sensitive(c.file); !strings.HasPrefix(got, c.want) || c.want == "" && got != "" {
			t.Errorf("Sensitive(%s) = %q, want %q", c.file, got, c.want)
		}
	}
}

// Issue 14 review C, A1: Sensitive is asked for every path wrap grants,
// the server's code and its code root too: a folder in a hidden folder
// of the home folder is sensitive; what the embedded default profile
// grants there (a runtime's packages, ~/.nvm/versions/…) is not, unless
// it leads elsewhere.
func TestSensitiveFolderAndPreset(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	home := filepath.Join(root, "home")
	f := UserFolders(func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	})
	pkg := filepath.Join(home, ".nvm/versions/node/v20/lib/node_modules/srv")
	for _, d := range []string{pkg, filepath.Join(home, ".config/gh"), filepath.Join(home, ".ssh")} {
		os.MkdirAll(d, 0o700)
	}
	os.WriteFile(filepath.Join(home, ".ssh/id_ed25519"), nil, 0o600)
	if err := os.Symlink(filepath.Join(home, ".ssh/id_ed25519"), filepath.Join(pkg, "key.js")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{home + "/.config/gh", "a folder in a hidden folder of your home folder (~/.config)"},
		{home + "/.ssh", "a hidden folder of your home folder (~/.ssh)"},
		{pkg + "/key.js", "a file in a hidden folder of your home folder (~/.ssh)"},
		// Review C, A4: the system's settings, secrets and state.
		{"/etc/shadow", "a file in a system folder (/etc)"},
		{"/etc/ssl/private/ssl-cert-snakeoil.key", "a file in a system folder (/etc)"},
		{"/etc/tool.conf", "a file in a system folder (/etc)"},
		{"/var/lib/dpkg/status", "a file in a system folder (/var/lib)"},
		{"/run/secrets/db", "a file in a system folder (/run)"},
		{"/proc/1/environ", "a file in a system folder (/proc)"},
		{"/boot/grub/grub.cfg", "a file in a system folder (/boot)"},
		// Control: the preset's runtime packages, TLS roots and devices.
		{pkg, ""},
		{pkg + "/index.js", ""},
		{"/etc/ssl/certs/ca-certificates.crt", ""},
		{"/dev/null", ""},
		{"/usr/share/dict/words", ""},
	} {
		if got := f.Sensitive(c.path); !strings.HasPrefix(got, c.want) || c.want == "" && got != "" {
			t.Errorf("Sensitive(%s) = %q, want %q", c.path, got, c.want)
		}
	}
	// Review C, A3: a grant a link leads into a sensitive place, the home
	// folder or above; not one written so, knowingly.
	for _, c := range []struct{ written, resolved, want string }{
		{home + "/p/docs", home + "/.ssh", "a hidden folder of your home folder (~/.ssh)"},
		{home + "/p/docs", home, "your home folder"},
		{home + "/p/docs", "/", "the root folder"},
		{home + "/p/docs", "/etc/ssl/private/k.key", "a file in a system folder (/etc)"},
		{home + "/.ssh", home + "/.ssh", ""},
		{home, home, ""},
		{home + "/p/docs", home + "/notes", ""},
		{"/etc/localtime", "/usr/share/zoneinfo/UTC", ""},
	} {
		if got := f.SensitiveTarget(c.written, c.resolved); !strings.HasPrefix(got, c.want) || c.want == "" && got != "" {
			t.Errorf("SensitiveTarget(%s, %s) = %q, want %q", c.written, c.resolved, got, c.want)
		}
	}
}
