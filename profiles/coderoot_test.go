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
