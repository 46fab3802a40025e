// Package keystore brings credentials from the OS keyring to the server
// that needs them, and keeps their values out of everything else.
//
// A Secret prints as [secret NAME] with every fmt verb and in slog; its
// value leaves only through Value. A Redactor replaces every resolved
// value with [redacted:NAME], also behind JSON, JavaScript and Python
// escapes and percent-escapes, and in hex and base64 (at any offset of a
// larger blob); its Writer does so for a stream that brings a value in
// pieces. A value it could not promise to redact is refused as a secret:
// one shorter than MinLength, and a number (Numeric), which a server can
// send back as a JSON number.
//
//	ring := keystore.Keyring{}
//	secrets, err := keystore.Resolve(ring, map[string]keystore.Ref{"GITHUB_TOKEN": {Service: "mcpcell", User: "github"}})
//	red := keystore.NewRedactor(secrets)
//	frame = red.Frame(frame)
//
// The keyring is github.com/zalando/go-keyring: the Secret Service on
// Linux, the Keychain on macOS, the Credential Manager on Windows.
//
// # Where a new thing goes
//
// A new keyring backend implements Store (keyring.go is the OS one; tests
// use a map). A new form a value can take on the wire (an encoding a
// server could use to smuggle it) goes in redact.go, next to the forms
// the Redactor already searches, and a new escape that can hide one in
// unescape.go, each with a case in leaktest, the attacker's reader that
// tests it. The rest of redaction: frame.go (which strings of a frame to
// read), find.go (the spans that hold a form, in every decoded view),
// view.go (a decoded text mapped back to its source) and writer.go (a
// stream). What a value must be to be accepted as a secret (MinLength,
// Numeric) is in keystore.go.
//
// # What it does not do
//
// It does not decide which secrets a server gets: the profile names them
// ([secrets]) and mcpcell resolves them at start. Redaction is against
// accidental leaks and the forms above, not against a server that means
// to leak: a value it splits with something between the parts, or
// transforms otherwise (compressed, encrypted, hashed…), is not found
// (the README's Secrets section lists both). What stops that server is
// the cell.
package keystore
