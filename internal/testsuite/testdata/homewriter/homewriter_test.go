// Package homewriter writes into HOME and the user's cache folder, with
// HOME redirected by testhome unless HOMEWRITER_PLAIN=1; testsuite's
// canary test runs it both ways.
package homewriter

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpcell/mcpcell/internal/testhome"
)

func TestMain(m *testing.M) {
	if os.Getenv("HOMEWRITER_PLAIN") == "1" {
		os.Exit(m.Run())
	}
	os.Exit(testhome.Run(m))
}

func TestWritesHome(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "written-by-a-test"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(cache, "homewriter"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The canary's own file, rewritten with the same content.
	if b, err := os.ReadFile(filepath.Join(home, "canary")); err == nil {
		os.WriteFile(filepath.Join(home, "canary"), b, 0o600)
	}
}
