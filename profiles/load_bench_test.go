package profiles

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoadDefault is reading and compiling a profile that includes
// the embedded default, as every mcpcell run does before its server
// starts.
func BenchmarkLoadDefault(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, ".mcpcell.toml")
	os.WriteFile(path, []byte("include = [\"default\"]\n[tools]\ndeny = [\"secret_*\"]\n"), 0o600)
	b.ReportAllocs()
	for b.Loop() {
		p, err := Load(Options{Profile: path, Cwd: dir, Getenv: func(string) string { return "" }})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}
