package profiles

import (
	"path/filepath"
	"testing"
)

// A TOML syntax error names the line it is on, whatever the decoder
// stopped at: a line's end that a table name lacks its ] at is that
// line's, not the next one's.
func TestSyntaxErrorLines(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, text, want string }{
		{"unterminated string", "include = [\"base\"]\n[env]\nset = { A = \"abc }\n[tools]\n", `:3: env.set.A: strings cannot contain newlines`},
		{"unterminated string at the end", "[env]\nset = { A = \"abc", `:2: env.set.A: unexpected EOF; expected '"'`},
		{"bad key", "include = [\"base\"]\nread only = true\n", `:2: expected '.' or '=', but got 'o' instead`},
		{"missing ] of a table", "include = [\"base\"]\n[filesystem\nread = []\n", `:2: expected '.' or ']' to end table name, but got the end of the line instead`},
		{"missing ] of a table at the end", "include = [\"base\"]\n\n[env\n", `:3: expected '.' or ']' to end table name, but got the end of the line instead`},
		{"missing ] of a list", "[filesystem]\nread = [\"/a\",\n\"/b\"\nwrite = []\n", `:4: filesystem.read: expected a comma (',') or array terminator (']'), but got 'w'`},
		{"no value", "[client]\nroots =\nsampling = true\n", `:2: client.roots: expected value but found the end of the line instead`},
		{"duplicate key", "[client]\nroots = true\nsampling = true\nroots = false\n", `:4: client.roots is defined twice (here, and on a line before)`},
		{"duplicate table", "[client]\nroots = true\n\n[client]\n", `:4: client is defined twice (here, and on a line before)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "p.toml")
			write(t, path, c.text)
			_, err := Load(Options{Profile: path, Getenv: env(map[string]string{"HOME": "/h"})})
			if err == nil || err.Error() != path+c.want {
				t.Errorf("%q:\ngot  %v\nwant %s%s", c.text, err, path, c.want)
			}
		})
	}
}
