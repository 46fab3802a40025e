// Package cases has a test for each way a test can end, chosen by
// TESTSUITE_CASES (a comma-separated list); testsuite's tests run it.
package cases

import (
	"os"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/testhome"
)

func TestMain(m *testing.M) { os.Exit(testhome.Run(m)) }

func TestPasses(t *testing.T) {
	t.Log("a line from the passing test")
	t.Run("sub", func(t *testing.T) {})
}

func TestFails(t *testing.T) {
	if !strings.Contains(os.Getenv("TESTSUITE_CASES"), "fail") {
		return
	}
	t.Run("inner", func(t *testing.T) { t.Error("the failing subtest's own line") })
	t.Log("the failing test's line")
}

func TestSkips(t *testing.T) {
	if !strings.Contains(os.Getenv("TESTSUITE_CASES"), "skip") {
		return
	}
	t.Run("inner", func(t *testing.T) { t.Skip("skipped: a subtest's component is missing") })
}

func TestNeedsRoot(t *testing.T) {
	if !strings.Contains(os.Getenv("TESTSUITE_CASES"), "root") {
		return
	}
	t.Skip("skipped: needs root to become uid 65534")
}

func TestOnlyRoot(t *testing.T) {
	if !strings.Contains(os.Getenv("TESTSUITE_CASES"), "root") {
		return
	}
	t.Skip("skipped: vhangup needs a capability only root has to lose")
}
