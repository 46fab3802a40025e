// Package broken does not build: testsuite counts it as failed.
package broken

import "testing"

func TestNever(t *testing.T) { undefinedName() }
