// Package audit keeps mcpcell's audit log: one JSON line per decision,
// each carrying the hash of the one before, so that an edited, removed or
// reordered record is found by VerifyFiles.
//
// A record holds what was decided and why, the shape of a call's
// arguments (names and JSON types), sizes and timings; never a value.
// Repeats of one kind of event are counted by the interposer: a record
// with a Count stands for that many (see jsonrpc.RepeatWindow).
//
//	log, err := audit.Open(path, audit.Meta{Session: id, Profile: "proj", MaxSize: 64 << 20, Keep: 4})
//	ip := &jsonrpc.Interposer{Recorder: log, ...}
//
// # Rotation
//
// A log is a set of files. When the current one (path, NAME.jsonl) would
// grow past MaxSize, it ends with a rotation record and is renamed
// NAME.1.jsonl (the older ones move up to NAME.Keep.jsonl; older still
// are removed), and a new NAME.jsonl begins with a continuation record
// whose hash links it to the rotation record: the chain runs through the
// files, oldest to newest. Files lists them; VerifyFiles checks the set
// and finds a file removed from its middle, or the newest one removed.
// Sessions sharing a log rotate it under the same lock, each finding the
// new file by the rotation record at the end of the one it held.
//
// # Limits
//
// The chain shows changes inside the files; it cannot show that the
// newest records of the current file were cut off, or tell the oldest
// files removed by a person from those rotated away, and anyone who can
// write the files can rewrite the whole chain. Ship the log elsewhere
// when that matters. Records wait in memory until Sync or Flush (at most
// minGap under load): a killed process loses those.
//
// # Where a new thing goes
//
// A new member of a record goes in two places that must agree: Record
// (audit.go), the form readers decode with encoding/json, and
// appendRecord (encode.go), which writes the same bytes without
// reflection (FuzzEncoding holds the two together). Checks of the chain
// go in verify.go; naming and rotating the files in rotate.go.
//
// # What it does not do
//
// It decides nothing: it records what the interposer decided (a
// jsonrpc.Event), and counts no repeats itself. It keeps no value of an
// argument or a secret (Meta.Redact is applied to every string it
// writes), and it does not ship or sign the log.
package audit
