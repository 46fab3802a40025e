package clientconf

import (
	"os"
	"testing"

	"github.com/mcpcell/mcpcell/internal/testhome"
)

// The tests never touch the real HOME (see internal/testhome).
func TestMain(m *testing.M) { os.Exit(testhome.Run(m)) }
