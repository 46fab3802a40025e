//go:build !linux

package sandbox

import (
	"fmt"
	"io"
	"runtime"
)

// TryNamespace fails here: only Linux gives the cell a network namespace.
func TryNamespace(helper []string, e Egress, stderr io.Writer) error {
	return fmt.Errorf("the cell's own network namespace needs Linux, not %s", runtime.GOOS)
}
