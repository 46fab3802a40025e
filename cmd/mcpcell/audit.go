package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
)

func (c *cli) audit(args []string) int {
	var pf profileFlags
	var verify, follow bool
	var server, client, config string
	fs := newFlags("audit", c.stderr, &pf)
	fs.BoolVar(&verify, "verify", false, "check the hash chain")
	fs.BoolVar(&follow, "follow", false, "keep printing new records")
	fs.StringVar(&server, "server", "", "the log of the server wrap wrapped under this name")
	fs.StringVar(&client, "client", "", "with --server: the client whose configuration names it")
	fs.StringVar(&config, "config", "", "with --server and --client: the configuration file (default: the client's)")
	if err := fs.Parse(args); err != nil {
		return c.usage2(fmt.Errorf("audit: %v", err))
	}
	switch {
	case server == "" && (client != "" || config != ""):
		return c.usage2(errors.New("audit: --client and --config choose among the servers of --server NAME"))
	case config != "" && client == "":
		return c.usage2(errors.New("audit: --config needs --client (which client's format it is)"))
	case server != "" && (pf.profile != "" || fs.NArg() > 0):
		return c.usage2(errors.New("audit: give --server, --profile or a FILE, not two of them"))
	}
	var path string
	switch {
	case server != "":
		e, code := c.wrappedProfile(server, client, config)
		if code != 0 {
			return code
		}
		if path, code = c.wrappedLog(e); code != 0 {
			return code
		}
	case fs.NArg() == 0:
		pf.anyProject = true // reading a log starts no server
		p, _, code := c.loadProfile(pf)
		if code != 0 {
			return code
		}
		path = p.AuditPath
	case fs.NArg() == 1:
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
			if code := c.printName(name, &last); code != 0 {
				return code
			}
		}
		return 0
	}
	f, err := os.Open(files[0])
	if err != nil {
		return c.fail(fmt.Errorf("audit: %w", err), "")
	}
	for {
		code := c.printFile(f, &last, true)
		f.Close()
		if code != 0 {
			return code
		}
		var first int64
		for f, first = c.continuation(path, last.Seq); f == nil; f, first = c.continuation(path, last.Seq) {
			time.Sleep(200 * time.Millisecond)
		}
		if first > last.Seq+1 {
			fmt.Fprintf(c.stdout, "(records %d to %d were rotated away before they could be printed)\n", last.Seq+1, first-1)
		}
	}
}

// printName prints the records of the file name.
func (c *cli) printName(name string, last *audit.Record) int {
	f, err := os.Open(name)
	if err != nil {
		return c.fail(fmt.Errorf("audit: %w", err), "")
	}
	defer f.Close()
	return c.printFile(f, last, false)
}

// printFile prints the records of f until its end; with follow, until
// it ends with a rotation record.
func (c *cli) printFile(f io.Reader, last *audit.Record, follow bool) int {
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
			fmt.Fprintf(c.stdout, "(unreadable record) %s\n", printable(strings.TrimRight(string(line), "\n")))
			continue
		}
		*last, rotated = rec, rec.Decision == audit.DecisionRotate
		subject := rec.Subject
		if subject == "" {
			subject = "-"
		}
		fmt.Fprintf(c.stdout, "%s %s %-6s %-14s %-22s %s %s", printable(rec.Time), printable(rec.Session[:min(8, len(rec.Session))]), printable(rec.Decision), printable(rec.Dir), printable(rec.Method), printable(subject), printable(rec.Rule))
		if rec.DurationMs > 0 {
			fmt.Fprintf(c.stdout, " %.3fms", rec.DurationMs)
		}
		if rec.Count > 0 {
			fmt.Fprintf(c.stdout, " ×%d", rec.Count)
		}
		if rec.Note != "" {
			fmt.Fprintf(c.stdout, " (%s)", printable(rec.Note))
		}
		fmt.Fprintln(c.stdout)
	}
}

// continuation finds the file of the log at path that continues the
// rotation record seq: the one whose continuation record comes first
// after it (seq+1, unless the files between were rotated away). It
// returns that file open, and that record's sequence number; nil when
// there is no such file yet, or when it cannot tell (see below).
//
// It returns the file it read, not its name: a rotation renames every
// file, and the name may hold the file after it by the time it is opened
// again, whose records would follow those printed with no word of the
// ones between.
func (c *cli) continuation(path string, seq int64) (*os.File, int64) {
	names, _ := audit.Files(path)
	read := make([]os.FileInfo, len(names)) // the file read under each name
	var best *os.File
	var bestSeq int64
	for i, name := range names {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		read[i], _ = f.Stat()
		// Read at offsets: the file is read from its start if it is the one.
		line, _ := bufio.NewReader(io.NewSectionReader(f, 0, math.MaxInt64)).ReadBytes('\n')
		var rec audit.Record
		if json.Unmarshal(line, &rec) == nil && rec.Decision == audit.DecisionContinue && rec.Seq > seq && (best == nil || rec.Seq < bestSeq) {
			if best != nil {
				best.Close()
			}
			best, bestSeq = f, rec.Seq
		} else {
			f.Close()
		}
		if c.scanned != nil {
			c.scanned(name)
		}
	}
	if best == nil || bestSeq == seq+1 {
		return best, bestSeq
	}
	// No file read begins at seq+1. A rotation while the names were read
	// may have moved it from a name not read yet to one read already (the
	// path to NAME.1.jsonl): the records between are gone only if every
	// name still holds the file read there; if not, look again later.
	if !unmoved(path, names, read) {
		best.Close()
		return nil, 0
	}
	return best, bestSeq
}

// unmoved reports whether the log at path still has the files names,
// each name holding the file read under it (read): whether no rotation
// moved them since they were listed. (A file only moves on, from the
// path to NAME.1.jsonl and up, so a name that held a newer file since
// never holds the one read there again.)
func unmoved(path string, names []string, read []os.FileInfo) bool {
	now, err := audit.Files(path)
	if err != nil || !slices.Equal(now, names) {
		return false
	}
	for i, name := range now {
		st, err := os.Stat(name)
		if err != nil || read[i] == nil || !os.SameFile(st, read[i]) {
			return false
		}
	}
	return true
}
