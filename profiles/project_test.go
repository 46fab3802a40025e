package profiles

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestBroadFolder(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "users", "me")
	os.MkdirAll(filepath.Join(home, "proj"), 0o755)
	toRoot := filepath.Join(root, "to-root")
	os.Symlink("/", toRoot)
	toHome := filepath.Join(root, "to-home")
	os.Symlink(home, toHome)
	for _, tc := range []struct{ dir, want string }{
		{"/", "the root folder"},
		{toRoot, "the root folder"},
		{home, "your home folder"},
		{home + "/", "your home folder"},
		{toHome, "your home folder"},
		{filepath.Join(root, "users"), "a folder above your home folder"},
		{"/usr", "a system folder (/usr)"},
		{"/usr/share/doc", "a system folder (/usr)"},
		{"/etc", "a system folder (/etc)"},
		{"/proc/self", "a system folder (/proc)"},
		{"/var", "a system folder (/var)"},
		{"/var/lib", "a system folder (/var)"},
		{"/var/log/app", "a system folder (/var)"},
		{"/var/www", "a system folder (/var)"},
		{"/var/www/site", ""},
		{"/var/home/me/proj", ""},
		{"/opt", "a system folder"},
		{"/home", "a system folder"},
		{"/opt/app", ""},
		{filepath.Join(home, "proj"), ""},
		{filepath.Join(toHome, "proj"), ""},
	} {
		if got := broadFolder(tc.dir, home); got != tc.want {
			t.Errorf("broadFolder(%q) = %q, want %q", tc.dir, got, tc.want)
		}
	}
	// HOME set elsewhere does not hide the home folder the user database names.
	if got := broadFolder(home, filepath.Join(root, "fake"), home); got != "your home folder" {
		t.Errorf("the second home: %q", got)
	}
}

// Load refuses the working folder as the project only when nothing chose
// it: --project and a profile file's folder are choices.
func TestLoadRefusesBroadWorkingFolder(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	os.MkdirAll(home, 0o755)
	getenv := env(map[string]string{"HOME": home})
	_, err := Load(Options{Cwd: home, Getenv: getenv})
	var unsafe *UnsafeProjectError
	if !errors.As(err, &unsafe) || unsafe.Project != home || unsafe.Why != "your home folder" {
		t.Fatalf("Load from HOME: %v, want an UnsafeProjectError", err)
	}
	// --profile default names no project either.
	if _, err := Load(Options{Cwd: "/", Profile: "default", Getenv: getenv}); !errors.As(err, &unsafe) {
		t.Errorf("--profile default from /: %v, want an UnsafeProjectError", err)
	}
	// --project names it, but no profile file grants it.
	_, err = Load(Options{Cwd: "/", Project: home, Getenv: getenv})
	if !errors.As(err, &unsafe) || unsafe.From != ProjectFlag {
		t.Errorf("--project HOME with the embedded default: %v, want an UnsafeProjectError", err)
	}
	// A profile file the user wrote may have a broad project (run warns).
	write(t, filepath.Join(home, FileName), "include = [\"default\"]\n")
	p, err := Load(Options{Cwd: home, Getenv: getenv})
	if err != nil || p.Project != home || p.ProjectFrom != ProjectProfile {
		t.Errorf("a profile file in HOME: %v", err)
	}
	p, err = Load(Options{Cwd: "/", Profile: filepath.Join(home, FileName), Project: "/", Getenv: getenv})
	if err != nil || p.Project != "/" {
		t.Errorf("a profile file with --project /: %v", err)
	}
}
