// Package trust keeps what the user approved: the profile files (by the
// SHA-256 of their content), the server commands a profile may start
// (the command line and the SHA-256 of each file the kernel runs for it),
// and the tool surface a server showed (each tool, prompt and resource
// template, by a digest of its definition). It is mcpcell's answer to a
// server that can write its own profile, plant one, or change a tool's
// description after the user approved it: what is not in the store is
// not honoured until `mcpcell trust` puts it there. The store lives in
// mcpcell's ${STATE} folder, which no write grant may reach; it is
// modelled on direnv's allow list and mise's trust.
//
// A record is a JSON file named by the digest of its key, written whole
// (a temporary file renamed over it) under an advisory lock on the store,
// so that concurrent sessions and `mcpcell trust` never lose an update.
//
// # Where a new thing goes
//
// A new kind of approval is a record of its own kind (a name from
// recordID, read and updated through Store's read and update, which hold
// the lock and write whole), in a file of its own beside profile.go
// (profile files and commands) and surfacerecord.go (tool surfaces; the
// Surface a session asks is surface.go's). A record keeps digests,
// bounded; what the user is shown (a command line, a definition) is kept
// masked or clipped, with its bound beside it.
//
// # What it does not do
//
// It decides nothing itself: mcpcell run asks it (CheckFile,
// CheckCommand) and the policy asks the Surface (as profiles.Pins), and
// they refuse; `mcpcell trust` asks the user and writes. It keeps no secret and no
// argument of a call, and it does not protect itself from a process of
// the user's that writes ${STATE}: the cell keeps the server out of it.
package trust
