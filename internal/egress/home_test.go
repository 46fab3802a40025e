package egress_test

import (
	"os"
	"testing"

	"github.com/mcpcell/mcpcell/internal/testhome"
)

// The tests never touch the real HOME (see internal/testhome). In the
// external package: TestCloseEndsEverything counts the goroutines with
// a frame of package egress, and the main goroutine runs TestMain.
func TestMain(m *testing.M) { os.Exit(testhome.Run(m)) }
