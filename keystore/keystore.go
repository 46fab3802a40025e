// Package keystore brings credentials from the OS keyring to the server
// that needs them, and keeps their values out of everything else: a
// Secret prints as [secret NAME], never as its value.
//
// This package is a seam for now: profiles already parse [secrets]
// references; resolving them through the Secret Service comes next.
package keystore

import (
	"fmt"
	"log/slog"
)

// Ref names a keyring item: service and user (account).
type Ref struct {
	Service, User string
}

// Secret is a resolved credential. Its value leaves only through Value.
type Secret struct {
	Name  string // the environment variable it fills
	value string
}

// New wraps a value.
func New(name, value string) Secret { return Secret{Name: name, value: value} }

// Value returns the credential itself.
func (s Secret) Value() string { return s.value }

func (s Secret) String() string { return "[secret " + s.Name + "]" }

// Format prints the name for every verb, so %v, %+v, %#v and %q are safe.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// LogValue keeps the value out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Source resolves references; the keyring is one, tests may bring others.
type Source interface {
	Get(Ref) (string, error)
}
