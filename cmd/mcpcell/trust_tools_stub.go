package main

import (
	"errors"

	"github.com/mcpcell/mcpcell/profiles"
)

// trustTools approves a server's changed tool surface. The branch that
// pins tool surfaces replaces this stub.
func (c *cli) trustTools(p *profiles.Profile, command []string, yes bool) int {
	return c.fail(errors.New("trust --tools: not built yet"), "")
}
