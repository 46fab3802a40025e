package profiles

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Verify sees each file's bytes before they are parsed, the top file
// first; refusing one stops Load before its includes are read.
func TestLoadVerify(t *testing.T) {
	dir := t.TempDir()
	top := filepath.Join(dir, ".mcpcell.toml")
	os.WriteFile(top, []byte("include = [\"default\", \"x.toml\"]\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "x.toml"), []byte("[tools]\ndeny = [\"a\"]\n"), 0o600)
	var seen []string
	opts := Options{Profile: top, Getenv: func(k string) string { return map[string]string{"HOME": dir + "-home"}[k] }}
	opts.Verify = func(p *Profile, path string, data []byte) error {
		if p.Project != dir || p.Origin.File != top || p.Vars["STATE"] == "" {
			t.Errorf("Verify got project %q, origin %q", p.Project, p.Origin.File)
		}
		seen = append(seen, path+":"+string(data))
		return nil
	}
	if _, err := Load(opts); err != nil {
		t.Fatal(err)
	}
	want := []string{top + ":include = [\"default\", \"x.toml\"]\n", filepath.Join(dir, "x.toml") + ":[tools]\ndeny = [\"a\"]\n"}
	if !slices.Equal(seen, want) {
		t.Errorf("Verify saw %q, want %q", seen, want)
	}
	// Refused: the include (a FIFO here) is never opened.
	os.Remove(filepath.Join(dir, "x.toml"))
	refused := errors.New("refused")
	seen = nil
	opts.Verify = func(_ *Profile, path string, _ []byte) error { seen = append(seen, path); return refused }
	if _, err := Load(opts); !errors.Is(err, refused) || len(seen) != 1 {
		t.Errorf("Load = %v after Verify saw %v", err, seen)
	}
}

// A profile file is a regular file of at most maxFileSize bytes.
func TestReadFileRefuses(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.toml")
	os.WriteFile(big, []byte(strings.Repeat("#", maxFileSize+1)), 0o600)
	for path, want := range map[string]string{
		big:         "is larger than 1048576 bytes",
		"/dev/zero": "is not a regular file (a character device)",
		dir:         "is not a regular file (a folder)",
	} {
		if _, err := readFile(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("readFile(%s) = %v, want %q", path, err, want)
		}
	}
}
