package keystore

import (
	"errors"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

// The messages for keyring failures, from the error texts go-keyring and
// godbus give (the failures themselves are provoked for real in
// cmd/mcpcell's TestKeyringUnavailable where that is quick).
func TestClassify(t *testing.T) {
	r := Ref{Service, "github"}
	for _, c := range []struct {
		err       error
		msg, hint string
	}{
		{keyring.ErrNotFound, "secret github is not in the keyring (service mcpcell)", "mcpcell secret set github"},
		{errors.New("dbus: DBUS_SESSION_BUS_ADDRESS not set"), "no D-Bus session bus", "dbus-run-session"},
		{errors.New("The name org.freedesktop.secrets was not provided by any .service files"), "no Secret Service on the session bus", "gnome-keyring-daemon --start"},
		{errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"), "the keyring collection is locked, or its unlock prompt was dismissed", "unlock the login keyring"},
	} {
		err := classify(r, c.err)
		if !strings.Contains(err.Error(), c.msg) || !strings.Contains(Hint(err), c.hint) {
			t.Errorf("%v: %q / %q", c.err, err, Hint(err))
		}
	}
	other := classify(Ref{"gh:github.com", "octocat"}, keyring.ErrNotFound)
	if !errors.Is(other, ErrNotFound) || strings.Contains(Hint(other), "secret set") {
		t.Errorf("another tool's item: %v / %s", other, Hint(other))
	}
}
