package profiles

import (
	"path/filepath"
	"strings"
	"testing"
)

// [audit] max_size and keep: sizes in bytes or with a unit, the defaults
// when absent, and an error at the line of anything else.
func TestAuditRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.toml")
	for _, c := range []struct {
		text string
		size int64
		keep int
		err  string
	}{
		{"", 64 << 20, 4, ""},
		{"[audit]\nmax_size = \"64MiB\"\nkeep = 4\n", 64 << 20, 4, ""},
		{"[audit]\nmax_size = 1048576\n", 1 << 20, 4, ""},
		{"[audit]\nmax_size = \"1 GiB\"\nkeep = 10\n", 1 << 30, 10, ""},
		{"[audit]\nmax_size = \"500kB\"\n", 500_000, 4, ""},
		{"[audit]\nmax_size = \"2MB\"\n", 2_000_000, 4, ""},
		{"[audit]\nmax_size = \"64KiB\"\nkeep = 1\n", 64 << 10, 1, ""},
		{"[audit]\nmax_size = \"1TiB\"\n", 1 << 40, 4, ""},
		{"[audit]\n\nmax_size = \"64 megs\"\n", 0, 0, `:3: audit.max_size: "64 megs" is not a size`},
		{"[audit]\nmax_size = \"63KiB\"\n", 0, 0, `:2: audit.max_size: "63KiB" is outside 64KiB to 1TiB`},
		{"[audit]\nmax_size = 1000\n", 0, 0, `:2: audit.max_size: 1000 is outside`},
		{"[audit]\nmax_size = -5\n", 0, 0, `:2: audit.max_size: -5 is outside`},
		{"[audit]\nmax_size = \"2TiB\"\n", 0, 0, `:2: audit.max_size: "2TiB" is outside`},
		{"[audit]\nmax_size = \"99999999999999999999GiB\"\n", 0, 0, `is outside 64KiB to 1TiB`},
		{"[audit]\nmax_size = 1.5e6\n", 0, 0, `:2: audit.max_size: wrong type: want a whole number of bytes or a string such as "64MiB", got a number`},
		{"[audit]\nmax_size = \"-64MiB\"\n", 0, 0, `is not a size`},
		{"[audit]\nkeep = 0\n", 0, 0, `:2: audit.keep: 0 is outside 1 to 1000`},
		{"[audit]\nkeep = 1001\n", 0, 0, `:2: audit.keep: 1001 is outside`},
		{"[audit]\nkeep = \"4\"\n", 0, 0, `:2: audit.keep: wrong type: want a whole number, got a string`},
		{"[audit]\nmax_sise = \"64MiB\"\n", 0, 0, `:2: unknown key "audit.max_sise"`},
	} {
		write(t, path, c.text)
		p, err := Load(Options{Profile: path, Getenv: env(nil)})
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), path+":") {
				t.Errorf("%q: err = %v, want %s", c.text, err, c.err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.text, err)
		case p.AuditMaxSize != c.size || p.AuditKeep != c.keep:
			t.Errorf("%q: max_size %d, keep %d; want %d, %d", c.text, p.AuditMaxSize, p.AuditKeep, c.size, c.keep)
		}
	}
}
