// Package profiles reads a server's profile (TOML, with includes of the
// embedded presets and variables such as ${PROJECT} and ${CACHE}), checks
// it with errors that name the file and line, and compiles it into the
// Policy the interposer asks about every message.
//
// # Loading
//
// Load finds the profile (--profile; else a .mcpcell.toml in the project
// or one of its parents; else the embedded default), merges its includes and
// expands its variables into a Profile: the grants the cell is built
// from (files, hosts, ports, environment, secrets) and the rules the
// policy applies. It never fails open: a project it cannot confine
// safely (a home folder, /, a system folder, mcpcell's own folders) is
// refused for an embedded profile, and a grant that reaches mcpcell's
// state is refused for any. A profile file is a regular file of at most
// maxFileSize bytes (an include of a FIFO or a device never hangs Load),
// and Options.Verify sees each file's bytes before they are parsed, so a
// caller that trusts only approved content (mcpcell run, with the trust
// store) refuses an edited or planted file before its includes are read.
//
// # The policy
//
// Compile turns a Profile into a Policy, built once and asked per frame:
// tools, prompts and resources allow and deny globs (deny wins, and
// matches every spelling a server's case mapping or Unicode
// normalisation reads as a name it names); [tools.args] constraints on
// argument values (within folders, with symbolic links followed as the
// server's open would; enums; lengths); the [client] switches for
// sampling, elicitation and roots wherever a request for them can
// travel (requests, input_required results, errors, and tasks wherever
// the schema puts one); the protocol version, fixed by initialize; and the
// listing gate: a tool is callable only if the current listing showed
// it. Each member the policy reads has one spelling: a variant Go's
// encoding/json would read as the same member is refused. The Policy
// keeps bounded state: the current listing's names as digests, and the
// answers withheld from the server, both capped.
//
// # Pinned surfaces
//
// SetPins gives the Policy the tool surface the user approved (Pins, the
// trust store's Surface in mcpcell; none when the profile says
// [tools] pin = false). Every tools/list, prompts/list and
// resources/templates/list page is then judged entry by entry by the
// Canonical form of its definition (all but _meta): an entry that is
// new or changed since trusted is withheld from the client and refused
// as unknown by name, with a note once a session; a call before any
// listing is refused for a name never approved. The policy does no file
// I/O itself and keeps only digests.
//
// # Where a new thing goes
//
// A new setting goes schema → apply → Profile → compile/policy: its TOML
// form in schema.go (File), its checks, merging and expansion in
// Profile.apply (apply.go: errors name the file and line; variables are
// expanded in expand.go, discovery is discover.go's, reading and merging
// load.go's), its value as a field of Profile, and then the part that
// reads it: compile.go (CompileCell), the pure function that turns a
// Profile into the sandbox spec parts (grants, network, environment,
// widenings) and CellVerdict, which check and run share, for a setting of
// the cell; Compile (policy.go) and the file of its concern for a setting
// of the policy: client.go for what the client sends, replies.go for what
// the server sends, version.go for protocol eras, args.go and argcheck.go
// for argument rules, uri.go, pins.go, listing.go, multiround.go…
// Every decision of the wire has a case in policy_test.go, run without a
// process. A new preset is a file in presets/.
//
// # What it does not do
//
// It starts nothing and confines nothing: sandbox builds the cell from
// what compile returns, and mcpcell does the side effects (making the
// cell's folders, probing the kernel, reading the keyring). It does not
// frame, answer or log messages: the interposer (jsonrpc) asks the
// Policy and acts on its Verdict.
//
// # Example
//
//	p, err := profiles.Load(profiles.Options{Profile: path, Cwd: wd, Getenv: os.Getenv})
//	if err != nil {
//		return err // "/home/me/proj/.mcpcell.toml:12: tools.allow: glob "read_[": unclosed ["
//	}
//	pol, err := profiles.Compile(p)
//	...
//	ip := &jsonrpc.Interposer{Policy: pol}
package profiles
