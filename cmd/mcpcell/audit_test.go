package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// audit --follow prints records that arrive after it started.
func TestAuditFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	log, err := audit.Open(path, audit.Meta{Session: "0123456789abcdef", Profile: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow", Method: "first"})
	cmd := exec.Command(os.Args[0], "__mcpcell", "audit", "--follow", path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	want := []string{"first", "second", "third"}
	for i, w := range want {
		if i > 0 {
			log.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Method: w})
		}
		select {
		case l := <-lines:
			if !strings.Contains(l, w) {
				t.Errorf("line %d = %q, want %s", i, l, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("audit --follow printed no %q", w)
		}
	}
}

// audit --follow reads on across rotations: every record once, in order,
// from the oldest file kept to the newest, while the log rotates under
// it; a count of repeats shows its number; and a follower stopped while
// more files rotated away than are kept says which records it missed,
// then goes on with the oldest file left.
func TestAuditFollowRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	log, err := audit.Open(path, audit.Meta{Session: "0123456789abcdef", Profile: "p", MaxSize: audit.MinMaxSize, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	n := 0 // records written: m00000, m00001, …, some 470 bytes each, 136 a file
	write := func(k int) {
		for end := n + k; n < end; n++ {
			log.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow", Method: fmt.Sprintf("m%05d", n), Shape: strings.Repeat("a:string,", 20)})
			if n%10 == 0 {
				log.Flush()
			}
		}
		log.Flush()
	}
	write(1500) // 11 rotations: the first records are gone
	files, _ := audit.Files(path)
	if len(files) != 4 {
		t.Fatalf("files %v, want 3 rotated and the current one", files)
	}
	cmd := exec.Command(os.Args[0], "__mcpcell", "audit", "--follow", path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		t.Helper()
		for {
			select {
			case l := <-lines:
				if !strings.Contains(l, " rotate ") && !strings.Contains(l, " continue ") {
					return l
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("audit --follow printed nothing more")
			}
		}
	}
	// upTo reads the records up to m(n-1), each once, in order.
	want := readFirst(t, files[0])
	upTo := func() {
		t.Helper()
		for ; want < n; want++ {
			if l, m := next(), fmt.Sprintf(" m%05d ", want); !strings.Contains(l, m) {
				t.Fatalf("got %q, want the record of%s", l, m)
			}
		}
	}
	upTo()
	// The log rotates under the follower, once or twice a write: the file
	// after the one the follower ends may be rotated before it reads it.
	for range 6 {
		write(200)
		upTo()
	}
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Method: "counted", Count: 41})
	log.Flush()
	if l := next(); !strings.Contains(l, "deny") || !strings.Contains(l, "counted") || !strings.Contains(l, "×41") {
		t.Errorf("a count: %q", l)
	}
	// Stopped while the files it would read next are rotated away.
	cmd.Process.Signal(syscall.SIGSTOP)
	write(1500)
	cmd.Process.Signal(syscall.SIGCONT)
	files, _ = audit.Files(path)
	gapTo := readFirst(t, files[0])
	// The rest of the file it held, then the note, then the oldest kept.
	for {
		l := next()
		if strings.HasPrefix(l, "(records ") && strings.HasSuffix(l, " were rotated away before they could be printed)") {
			break
		}
		if m := fmt.Sprintf(" m%05d ", want); !strings.Contains(l, m) {
			t.Fatalf("got %q, want the record of%s or the note of the gap", l, m)
		}
		want++
	}
	want = gapTo
	upTo()
}

// readFirst returns the number of the first m%05d record in a file.
func readFirst(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r audit.Record
		json.Unmarshal(sc.Bytes(), &r)
		if n, err := strconv.Atoi(strings.TrimPrefix(r.Method, "m")); err == nil && strings.HasPrefix(r.Method, "m") {
			return n
		}
	}
	t.Fatalf("%s holds no record", path)
	return 0
}

// followLog is a log that rotates at the smallest size bound and keeps 3
// files, with records m00000, m00001, … written to it one at a time.
type followLog struct {
	t    *testing.T
	path string
	log  *audit.Log
	n    int // records written
}

func newFollowLog(t *testing.T) *followLog {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.jsonl")
	log, err := audit.Open(path, audit.Meta{Session: "0123456789abcdef", Profile: "p", MaxSize: audit.MinMaxSize, Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return &followLog{t: t, path: path, log: log}
}

// rotate writes records until the log has rotated k times, then a few
// more, so that the current file holds records too.
func (l *followLog) rotate(k int) {
	l.t.Helper()
	if k == 0 {
		return
	}
	for range k {
		held, err := os.Stat(l.path)
		if err != nil {
			l.t.Fatal(err)
		}
		for st := held; os.SameFile(st, held); st, _ = os.Stat(l.path) {
			l.write(1)
		}
	}
	l.write(5)
}

func (l *followLog) write(k int) {
	l.t.Helper()
	for end := l.n + k; l.n < end; l.n++ {
		l.log.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow", Method: fmt.Sprintf("m%05d", l.n), Shape: strings.Repeat("a:string,", 20)})
		if err := l.log.Flush(); err != nil {
			l.t.Fatal(err)
		}
	}
}

// printed prints the records of f as audit --follow does, and returns the
// numbers of the m%05d records among them.
func printed(t *testing.T, c *cli, f *os.File, last *audit.Record) []int {
	t.Helper()
	var out strings.Builder
	c.stdout = &out
	if code := c.printFile(f, last, false); code != 0 {
		t.Fatalf("printFile = %d", code)
	}
	var ms []int
	for l := range strings.Lines(out.String()) {
		for w := range strings.FieldsSeq(l) {
			if n, err := strconv.Atoi(strings.TrimPrefix(w, "m")); err == nil && strings.HasPrefix(w, "m") {
				ms = append(ms, n)
			}
		}
	}
	return ms
}

// followedToRotation makes a log rotated once and prints its first file
// (NAME.1.jsonl now) as audit --follow does: the follower stands at that
// file's rotation record (last), after the records ms.
func followedToRotation(t *testing.T) (l *followLog, c *cli, last *audit.Record, ms []int) {
	t.Helper()
	l = newFollowLog(t)
	l.rotate(1)
	f, err := os.Open(strings.TrimSuffix(l.path, ".jsonl") + ".1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c = &cli{stderr: io.Discard}
	last = new(audit.Record)
	ms = printed(t, c, f, last)
	if last.Decision != audit.DecisionRotate || len(ms) == 0 {
		t.Fatalf("the file printed ends with %q, after records %v", last.Decision, ms)
	}
	return l, c, last, ms
}

// audit --follow, at the end of a file, goes on with the file after it,
// however many rotations went by before it looked and before it read
// that file; when that one was rotated away too, with the oldest kept,
// after a note of the records it missed (see printAudit).
func TestAuditContinuation(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after int  // rotations before the follower looks for the next file; after it has read the first record of the current file, before it reads the rest
		gap           bool // the next file is gone
	}{
		{"the next file is the current one", 0, 0, false},
		{"the next file rotated", 1, 0, false},
		{"several rotations between two looks", 2, 0, false},
		{"the file printed rotated away", 3, 0, false},
		{"the next file rotated away too", 4, 0, true},
		// What TestAuditFollowRotation once saw: the name of the next file
		// held the file after it when the follower opened it, 200 ms later.
		{"a rotation between the look and the read", 0, 1, false},
		{"the next file rotated away before it is read", 0, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, c, last, ms := followedToRotation(t)
			seq := last.Seq // of the rotation record
			l.rotate(tc.before)
			files, _ := audit.Files(l.path)
			c.scanned = func(name string) {
				if name == l.path {
					l.rotate(tc.after)
				}
			}
			f, first := c.continuation(l.path, seq)
			if f == nil {
				t.Fatalf("continuation found no file in %v", files)
			}
			defer f.Close()
			next := printed(t, c, f, last)
			wantFirst, wantM := seq+1, ms[len(ms)-1]+1
			if tc.gap {
				wantFirst, wantM = first, readFirst(t, files[0])
				if first <= seq+1 {
					t.Errorf("continuation = seq %d, want past %d: the next file is gone", first, seq+1)
				}
			}
			if first != wantFirst || len(next) == 0 || next[0] != wantM {
				t.Errorf("continuation = seq %d, then records %v…; want seq %d, then m%05d on", first, next[:min(5, len(next))], wantFirst, wantM)
			}
		})
	}
}

// A rotation while the follower looks for the next file can move that
// file from a name not read yet to one read already (the current file to
// NAME.1.jsonl): it is not taken for rotated away, nor its records for
// missed.
func TestAuditContinuationRotatesDuringLook(t *testing.T) {
	l, c, last, ms := followedToRotation(t)
	one := strings.TrimSuffix(l.path, ".jsonl") + ".1.jsonl"
	seq := last.Seq // of the rotation record
	rotated := false
	c.scanned = func(name string) {
		if name == one && !rotated {
			rotated = true
			l.rotate(1)
		}
	}
	for look := 0; ; look++ {
		f, first := c.continuation(l.path, seq)
		if !rotated {
			t.Fatal("the seam was not called at NAME.1.jsonl")
		}
		if f == nil && look == 0 {
			continue // it could not tell, and looks again
		}
		if f == nil {
			t.Fatal("continuation found no file in a log at rest")
		}
		next := printed(t, c, f, last)
		f.Close()
		if first != seq+1 || len(next) == 0 || next[0] != ms[len(ms)-1]+1 {
			t.Fatalf("look %d: continuation = seq %d, then records %v…; want seq %d, then m%05d on", look, first, next[:min(5, len(next))], seq+1, ms[len(ms)-1]+1)
		}
		return
	}
}

// The viewer prints what peers chose (a method, a subject, a note) with
// control characters, line breaks and bidi controls escaped: a record
// cannot forge a second line, colour the terminal or reorder its text.
func TestAuditShowsNoControls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	log, err := audit.Open(path, audit.Meta{Session: "0123456789abcdef", Profile: "p"})
	if err != nil {
		t.Fatal(err)
	}
	hostile := "x\n2026-01-01T00:00:00Z 01234567 allow forged\r\x1b[2K\u202eevil\x00"
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Method: "egress/dns", Subject: hostile, Rule: hostile, Note: hostile})
	log.Close()
	out, err := exec.Command(os.Args[0], "__mcpcell", "audit", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if n := strings.Count(text, "\n"); n != 1 {
		t.Errorf("%d lines, want 1:\n%q", n, text)
	}
	for _, bad := range []string{"\r", "\x1b", "\u202e", "\x00"} {
		if strings.Contains(text, bad) {
			t.Errorf("the viewer printed %q:\n%q", bad, text)
		}
	}
	if !strings.Contains(text, `x\n2026-01-01T00:00:00Z 01234567 allow forged\r\x1b[2K\u202eevil\x00`) {
		t.Errorf("the field is not shown escaped:\n%q", text)
	}
}
