// Package jsontext owns JSON as text: the strict scanner that says
// whether bytes are one JSON value every peer reads the same way, walkers
// over the values it accepted, string decoding and quoting, and splicing
// new values into the text. The wire (jsonrpc), the policy (profiles),
// redaction (keystore) and client configuration editing (clientconf) read
// and edit JSON through it; none of them scans JSON on its own. It
// imports only the standard library.
//
// # Validation
//
// Validate accepts exactly one RFC 8259 value, with the rules the wire
// needs so that mcpcell and the server cannot read one frame two ways:
// valid UTF-8, no lone surrogate escape (Go reads one as U+FFFD,
// JavaScript as itself), no two member names of one object that are
// equal after unescaping or equal but for case (Go's encoding/json reads
// "name" and "Name" as one member, JavaScript as two), nesting at most
// 512 deep, and nothing but white space after the value.
//
// # Walking validated JSON
//
// Members, Elements, EachMember, EachElement, Lookup, LookupFold, String,
// StringBytes, StringEnd and TypeOf read a value that passed Validate (alone or inside a larger
// one) without checking it again: given other bytes they return an error,
// a zero value or a wrong answer, never panic. Values they return are
// views into the input, with offsets (Member.Start, Member.End) to splice
// at.
//
// # Editing
//
// Splice, Edit, SetMember and DropMembers rewrite a value in the text and
// keep every other byte; Quote and QuoteNoHTML write a string.
//
// # Where a new thing goes
//
// A new check of what a valid value is goes into the scanner
// (validate.go) and FuzzValidate; a new way to read an accepted value into
// walk.go (or string.go for strings), never with a scanner of its own; a
// new edit into splice.go. What a value means (a JSON-RPC id, a policy's
// argument) belongs to the package that uses it.
//
// # Example
//
//	if err := jsontext.Validate(frame); err != nil {
//		return err // why, and at which offset
//	}
//	name, _ := jsontext.String(jsontext.Lookup(params, "name"))
//	frame = jsontext.SetMember(frame, "note", jsontext.Quote(name))
package jsontext
