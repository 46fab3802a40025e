//go:build !linux

package sandbox

import (
	"os"
	"testing"

	"github.com/mcpcell/mcpcell/internal/testhome"
)

// The tests never touch the real HOME (see internal/testhome); on Linux,
// TestMain is in cell_linux_test.go.
func TestMain(m *testing.M) { os.Exit(testhome.Run(m)) }
