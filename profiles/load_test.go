package profiles

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsInOrder loads profiles with several errors each many times:
// the joined message is the same every time (no map iteration order in
// it), and lists the errors by key.
func TestErrorsInOrder(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, text, want string }{
		{"filesystem", `[filesystem]
read = ["r"]
write = ["w"]
exec = ["x"]
optional = ["o"]
`, `:4: filesystem.exec: "x" is not an absolute path (use ${PROJECT}/…)
:5: filesystem.optional: "o" is not an absolute path (use ${PROJECT}/…)
:2: filesystem.read: "r" is not an absolute path (use ${PROJECT}/…)
:3: filesystem.write: "w" is not an absolute path (use ${PROJECT}/…)`},
		{"network", `[network]
ports = [0]
bind = [70000]
`, `:3: network.bind: port 70000 is outside 1–65535
:2: network.ports: port 0 is outside 1–65535`},
		{"globs", `[tools]
deny = ["[d"]
allow = ["[a"]
`, `:3: tools.allow: glob "[a": unclosed [
:2: tools.deny: glob "[d": unclosed [`},
		{"variables", `[env]
set = { C = "${NO_C}", A = "${NO_A}", B = "${NO_B}" }
`, `:2: env.set.A: unknown variable ${NO_A} (known: CACHE, CONFIG, HOME, PROJECT, STATE, TMP)
:2: env.set.B: unknown variable ${NO_B} (known: CACHE, CONFIG, HOME, PROJECT, STATE, TMP)
:2: env.set.C: unknown variable ${NO_C} (known: CACHE, CONFIG, HOME, PROJECT, STATE, TMP)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".toml")
			write(t, path, c.text)
			want := path + strings.ReplaceAll(c.want, "\n", "\n"+path)
			for i := range 50 {
				_, err := Load(Options{Profile: path, Getenv: env(map[string]string{"HOME": "/h"})})
				if err == nil {
					t.Fatal("loaded")
				}
				if got := err.Error(); got != want {
					t.Fatalf("load %d:\ngot  %s\nwant %s", i, got, want)
				}
			}
		})
	}
}
