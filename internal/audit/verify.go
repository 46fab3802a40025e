package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// VerifyError names the first record that breaks the chain.
type VerifyError struct {
	File string // "" for a single stream
	Line int
	Msg  string
}

func (e *VerifyError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s: line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Summary is what a verification found.
type Summary struct {
	Files, Records int
	First, Last    int64 // the sequence numbers of the oldest and newest records
	// Continues: the oldest record is a continuation record, so the
	// records before it are not in the files read: rotated away, or
	// their files removed; the chain cannot tell which.
	Continues bool
	// Rotated: the newest record is a rotation record, so the file after
	// it is not among those read (or was being made as they were read).
	Rotated bool
}

// verify reads one file (or stream) of a log and checks every record's
// hash and its link to the record before. It returns the number of
// records. A file may begin where a log begins or with a continuation
// record.
func verify(r io.Reader) (int, error) {
	var v verifier
	err := v.read("", r)
	return v.sum.Records, err
}

// VerifyFiles checks the chain through the files of a log, oldest first
// (as Files lists them): within each file, and from each file's
// continuation record to the rotation record that ends the one before.
// A file missing from the middle of the set, or replaced, breaks it.
func VerifyFiles(paths []string) (Summary, error) {
	var v verifier
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return v.sum, err
		}
		err = v.read(p, f)
		f.Close()
		if err != nil {
			return v.sum, err
		}
	}
	return v.sum, nil
}

type verifier struct {
	sum      Summary
	prev     string // the hash of the newest record read
	file     string // the file it is in
	decision string // its decision
}

func (v *verifier) read(file string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	fail := func(msg string) error { return &VerifyError{File: file, Line: line, Msg: msg} }
	for sc.Scan() {
		line++
		body, sum, ok := split(sc.Bytes())
		if !ok {
			return fail("not a sealed record (no hash at its end)")
		}
		h := sha256.Sum256(body)
		if hex.EncodeToString(h[:]) != sum {
			return fail("the record was edited: its hash does not match its content")
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(append(append([]byte{}, body...), '}')))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return fail("the record cannot be read: " + err.Error())
		}
		first := v.sum.Records == 0
		switch {
		case first && rec.Prev != "" && rec.Decision == DecisionContinue:
			v.sum.Continues = true
		case line == 1 && !first && rec.Prev != v.prev:
			switch {
			case v.decision != DecisionRotate:
				return fail(fmt.Sprintf("the chain is broken here: %s does not end with a rotation record (its newest is seq %d), so its newest records were cut off, or a file between the two is missing", v.file, v.sum.Last))
			case rec.Prev == "":
				return fail(fmt.Sprintf("the chain is broken here: a new log begins in this file, but %s ends by rotating into a file that continues it (from seq %d), and that file is missing", v.file, v.sum.Last+1))
			default:
				return fail(fmt.Sprintf("the chain is broken here: this file does not continue %s, which ends at seq %d: a file between them is missing, or one was replaced", v.file, v.sum.Last))
			}
		case rec.Prev != v.prev:
			return fail("the chain is broken here: a record before this one was removed, added or moved")
		}
		if !first && rec.Seq != v.sum.Last+1 {
			return fail(fmt.Sprintf("sequence %d follows %d", rec.Seq, v.sum.Last))
		}
		if first {
			v.sum.First = rec.Seq
		}
		v.sum.Records++
		v.sum.Last = rec.Seq
		v.prev, v.decision = sum, rec.Decision
		v.sum.Rotated = rec.Decision == DecisionRotate
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	v.sum.Files++
	if line > 0 {
		v.file = file
	}
	return nil
}
