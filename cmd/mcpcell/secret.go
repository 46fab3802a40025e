package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"golang.org/x/term"

	"github.com/mcpcell/mcpcell/keystore"
)

func (c *cli) secret(args []string) int {
	if len(args) == 0 {
		return c.usage2(errors.New("secret: give set, rm, ls or check"))
	}
	fail := func(err error) int { return c.fail(err, keystore.Hint(err)) }
	switch args[0] {
	case "set", "rm":
		if len(args) != 2 {
			return c.usage2(fmt.Errorf("secret %s: give one NAME", args[0]))
		}
		name := args[1]
		if args[0] == "rm" {
			if err := keystore.Remove(c.store, name); err != nil {
				return fail(err)
			}
			fmt.Fprintf(c.stderr, "mcpcell: removed secret %q\n", name)
			return 0
		}
		value, err := c.readSecret(name)
		if err != nil {
			return fail(err)
		}
		if err := keystore.Put(c.store, name, value); err != nil {
			return fail(err)
		}
		fmt.Fprintf(c.stderr, "mcpcell: stored secret %q in the keyring (service %s)\n", name, keystore.Service)
		return 0
	case "ls":
		names, err := keystore.Names(c.store)
		if err != nil {
			return fail(err)
		}
		for _, n := range names {
			fmt.Fprintln(c.stdout, n)
		}
		return 0
	case "check":
		var pf profileFlags
		fs := newFlags("secret check", c.stderr, &pf)
		if err := fs.Parse(args[1:]); err != nil {
			return c.usage2(fmt.Errorf("secret check: %w", err))
		}
		p, _, code := c.loadProfile(pf)
		if code != 0 {
			return code
		}
		res := c.resolveSecrets(p)
		for _, n := range slices.Sorted(maps.Keys(p.Secrets)) {
			r := p.Secrets[n]
			status := "missing or unreadable"
			if _, ok := res.secrets[n]; ok {
				status = "resolves"
			}
			fmt.Fprintf(c.stdout, "%s\tservice %q, item %q\t%s\t%s\n", n, r.Service, r.User, status, r.From)
		}
		if res.err != nil {
			return c.fail(res.err, res.hint)
		}
		return 0
	}
	return c.usage2(fmt.Errorf("secret: unknown command %q", args[0]))
}

// readSecret reads a value from the terminal without echo, or from stdin
// when it is not a terminal (one trailing newline dropped).
func (c *cli) readSecret(name string) (string, error) {
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(c.stderr, "value for %s (not echoed): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		return string(b), err
	}
	b, err := io.ReadAll(io.LimitReader(c.stdin, 1<<20))
	if err != nil {
		return "", err
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return string(b), nil
}
