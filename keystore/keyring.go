package keystore

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/zalando/go-keyring"
)

// Keyring is the OS keyring.
type Keyring struct{}

// Get reads an item.
func (Keyring) Get(r Ref) (string, error) {
	v, err := keyring.Get(r.Service, r.User)
	return v, classify(r, err)
}

// Set writes an item.
func (Keyring) Set(r Ref, value string) error {
	return classify(r, keyring.Set(r.Service, r.User, value))
}

// Delete removes an item.
func (Keyring) Delete(r Ref) error { return classify(r, keyring.Delete(r.Service, r.User)) }

// classify turns the keyring's errors into ones that name the cause and
// the fix. go-keyring has one typed error; the rest is read from the
// D-Bus text.
func classify(r Ref, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, keyring.ErrNotFound) {
		hint := "mcpcell secret set " + r.User
		if r.Service != Service {
			hint = fmt.Sprintf("store it with the tool that owns service %q, or point the profile at another item", r.Service)
		}
		return &Error{Msg: fmt.Sprintf("secret %s is not in the keyring (service %s)", r.User, r.Service), Hint: hint, Err: ErrNotFound}
	}
	msg := err.Error()
	if runtime.GOOS != "linux" {
		return &Error{Msg: fmt.Sprintf("keyring: %s (item %s)", msg, r), Err: err}
	}
	switch {
	case strings.Contains(msg, "DBUS_SESSION_BUS_ADDRESS") || strings.Contains(msg, "dbus-launch") || strings.Contains(msg, "connect: no such file") || strings.Contains(msg, "connection refused"):
		return &Error{Msg: "no D-Bus session bus, so no keyring: " + msg, Hint: "run mcpcell inside your desktop session, or start one: dbus-run-session -- sh -c 'gnome-keyring-daemon --unlock --components=secrets; …'", Err: err}
	case strings.Contains(msg, "org.freedesktop.secrets") || strings.Contains(msg, "ServiceUnknown"):
		return &Error{Msg: "no Secret Service on the session bus: " + msg, Hint: "start one: gnome-keyring-daemon --start --components=secrets (or enable KeePassXC's Secret Service integration)", Err: err}
	case strings.Contains(msg, "unlock"):
		return &Error{Msg: "the keyring collection is locked, or its unlock prompt was dismissed or could not be shown: " + msg, Hint: "unlock the login keyring (log in to the desktop, or: gnome-keyring-daemon --unlock), then try again", Err: err}
	}
	return &Error{Msg: fmt.Sprintf("keyring: %s (item %s)", msg, r), Err: err}
}
