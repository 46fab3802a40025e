package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
)

func (c *cli) audit(args []string) int {
	var pf profileFlags
	var verify, follow bool
	fs := newFlags("audit", c.stderr, &pf)
	fs.BoolVar(&verify, "verify", false, "check the hash chain")
	fs.BoolVar(&follow, "follow", false, "keep printing new records")
	if err := fs.Parse(args); err != nil {
		return c.usage2(fmt.Errorf("audit: %v", err))
	}
	var path string
	switch fs.NArg() {
	case 0:
		pf.anyProject = true // reading a log starts no server
		p, _, code := c.loadProfile(pf)
		if code != 0 {
			return code
		}
		path = p.AuditPath
	case 1:
		path = fs.Arg(0)
	default:
		return c.usage2(errors.New("audit: give at most one file"))
	}
	// The log is path and its rotated files, NAME.N.jsonl.
	files, err := audit.Files(path)
	if err == nil && len(files) == 0 {
		_, err = os.Stat(path)
	}
	if err != nil {
		return c.fail(fmt.Errorf("audit: %w", err), "no session has written this log yet, or the path is wrong")
	}
	if verify {
		return c.verifyAudit(path, files)
	}
	return c.printAudit(path, files, follow)
}

// verifyAudit checks the chain through the log's files and says what it
// cannot know.
func (c *cli) verifyAudit(path string, files []string) int {
	sum, err := audit.VerifyFiles(files)
	if err != nil {
		var ve *audit.VerifyError
		if errors.As(err, &ve) {
			c.errorf("audit: %v", err)
		} else {
			c.errorf("audit: %s: %v", path, err)
		}
		return 1
	}
	newest := files[len(files)-1]
	if sum.Rotated && !audit.IsRotated(path) {
		c.errorf("audit: %s: the newest file ends with a rotation record (seq %d): the file after it, with the newest records, is missing", newest, sum.Last)
		c.hintf("it was removed or renamed, or a session was rotating the log just now: check again")
		return 1
	}
	what := fmt.Sprintf("%d records", sum.Records)
	if len(files) > 1 || sum.Continues {
		what += fmt.Sprintf(" in %d files (seq %d to %d)", len(files), sum.First, sum.Last)
	}
	fmt.Fprintf(c.stdout, "%s: %s, chain intact\n", path, what)
	if sum.Continues {
		fmt.Fprintf(c.stdout, "%s: the oldest file begins at seq %d, continuing records that are not here: rotated away, or their files removed (the chain cannot tell which)\n", path, sum.First)
	}
	if sum.Rotated {
		fmt.Fprintf(c.stdout, "%s: this file ends with a rotation record: the log continues in a newer file\n", path)
	}
	return 0
}

// printAudit prints one line a record, file after file, oldest first.
// With follow it waits for more, and goes on into the next file when the
// one it reads ends with a rotation record: the one whose first record
// continues it, found by its sequence number, since names move on with
// every rotation.
func (c *cli) printAudit(path string, files []string, follow bool) int {
	var last audit.Record // the newest record printed
	if !follow {
		for _, name := range files {
			if code := c.printFile(name, &last, false); code != 0 {
				return code
			}
		}
		return 0
	}
	next := files[0]
	for {
		if code := c.printFile(next, &last, true); code != 0 {
			return code
		}
		for next = ""; next == ""; time.Sleep(200 * time.Millisecond) {
			var first int64
			if next, first = continuation(path, last.Seq); next != "" && first > last.Seq+1 {
				fmt.Fprintf(c.stdout, "(records %d to %d were rotated away before they could be printed)\n", last.Seq+1, first-1)
			}
		}
	}
}

// printFile prints the records of the file name until its end; with
// follow, until it ends with a rotation record.
func (c *cli) printFile(name string, last *audit.Record, follow bool) int {
	f, err := os.Open(name)
	if err != nil {
		return c.fail(fmt.Errorf("audit: %w", err), "")
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial []byte
	rotated := false // this file's newest record is a rotation record
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			partial = append(partial, line...)
			if !follow || (len(partial) == 0 && rotated) {
				return 0
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err != nil {
			return c.fail(err, "")
		}
		line = append(partial, line...)
		partial = nil
		var rec audit.Record
		if json.Unmarshal(line, &rec) != nil {
			fmt.Fprintf(c.stdout, "(unreadable record) %s", line)
			continue
		}
		*last, rotated = rec, rec.Decision == audit.DecisionRotate
		subject := rec.Subject
		if subject == "" {
			subject = "-"
		}
		fmt.Fprintf(c.stdout, "%s %s %-6s %-14s %-22s %s %s", rec.Time, rec.Session[:min(8, len(rec.Session))], rec.Decision, rec.Dir, rec.Method, subject, rec.Rule)
		if rec.DurationMs > 0 {
			fmt.Fprintf(c.stdout, " %.3fms", rec.DurationMs)
		}
		if rec.Count > 0 {
			fmt.Fprintf(c.stdout, " ×%d", rec.Count)
		}
		if rec.Note != "" {
			fmt.Fprintf(c.stdout, " (%s)", rec.Note)
		}
		fmt.Fprintln(c.stdout)
	}
}

// continuation finds the file of the log at path that continues the
// rotation record seq: the one whose continuation record comes first
// after it (seq+1, unless the files between were rotated away), and
// that record's sequence number.
func continuation(path string, seq int64) (string, int64) {
	files, _ := audit.Files(path)
	best, bestSeq := "", int64(0)
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		line, _ := bufio.NewReader(f).ReadBytes('\n')
		f.Close()
		var rec audit.Record
		if json.Unmarshal(line, &rec) == nil && rec.Decision == audit.DecisionContinue && rec.Seq > seq && (best == "" || rec.Seq < bestSeq) {
			best, bestSeq = name, rec.Seq
		}
	}
	return best, bestSeq
}
