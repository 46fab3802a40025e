package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mcpcell/mcpcell/jsonrpc/audit"
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
	f, err := os.Open(path)
	if err != nil {
		return c.fail(fmt.Errorf("audit: %w", err), "no session has written this log yet, or the path is wrong")
	}
	defer f.Close()
	if verify {
		n, err := audit.Verify(f)
		if err != nil {
			c.errorf("audit: %s: %v", path, err)
			return 1
		}
		fmt.Fprintf(c.stdout, "%s: %d records, chain intact\n", path, n)
		return 0
	}
	return c.printAudit(f, follow)
}

// printAudit prints one line a record; with follow it waits for more.
func (c *cli) printAudit(f *os.File, follow bool) int {
	r := bufio.NewReader(f)
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			partial = append(partial, line...)
			if !follow {
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
		subject := rec.Subject
		if subject == "" {
			subject = "-"
		}
		fmt.Fprintf(c.stdout, "%s %s %-6s %-14s %-22s %s %s", rec.Time, rec.Session[:min(8, len(rec.Session))], rec.Decision, rec.Dir, rec.Method, subject, rec.Rule)
		if rec.DurationMs > 0 {
			fmt.Fprintf(c.stdout, " %.3fms", rec.DurationMs)
		}
		if rec.Note != "" {
			fmt.Fprintf(c.stdout, " (%s)", rec.Note)
		}
		fmt.Fprintln(c.stdout)
	}
}
