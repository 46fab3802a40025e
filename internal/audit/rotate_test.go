package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// rotatedLog writes n records of about 300 bytes each to a log that
// rotates at MinMaxSize and keeps keep files, and returns its path.
func rotatedLog(t *testing.T, n, keep int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log.jsonl")
	l, err := Open(path, Meta{Session: "s1", Profile: "p", MaxSize: MinMaxSize, Keep: keep})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		e := jsonrpc.Event{Time: time.Now(), Dir: jsonrpc.Up, Kind: jsonrpc.Request, Method: "tools/call", Subject: fmt.Sprintf("tool-%d", i), Decision: "allow", Shape: strings.Repeat("a:string,", 10)}
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 { // batches of several sizes
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// readRecords reads every record of a file.
func readRecords(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}

// At the size bound the file is renamed NAME.1.jsonl (the older ones move
// up, those beyond keep go), a file never grows past the bound, and the
// chain runs through the files: each ends with a rotation record and the
// next begins with a continuation record.
func TestRotation(t *testing.T) {
	path := rotatedLog(t, 2000, 2)
	files, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rotatedName(path, 2), rotatedName(path, 1), path}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Fatalf("Files = %v, want %v", files, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 3 {
		t.Errorf("the folder holds %v, want the three files only", entries)
	}
	for i, f := range files {
		st, _ := os.Stat(f)
		if st.Size() > MinMaxSize {
			t.Errorf("%s: %d bytes, over the bound of %d", f, st.Size(), MinMaxSize)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, st.Mode().Perm())
		}
		recs := readRecords(t, f)
		if recs[0].Decision != DecisionContinue {
			t.Errorf("%s begins with %q, want a continuation record", f, recs[0].Decision)
		}
		if last := recs[len(recs)-1].Decision; (last == DecisionRotate) != (i < len(files)-1) {
			t.Errorf("%s ends with %q", f, last)
		}
		// Each file verifies on its own too.
		r, _ := os.Open(f)
		if _, err := verify(r); err != nil {
			t.Errorf("verify(%s) = %v", f, err)
		}
		r.Close()
	}
	sum, err := VerifyFiles(files)
	if err != nil {
		t.Fatalf("VerifyFiles = %v", err)
	}
	if !sum.Continues || sum.Rotated || sum.Files != 3 || sum.Last-sum.First+1 != int64(sum.Records) {
		t.Errorf("summary %+v: want 3 files continuing older ones, the newest not rotated, no gap", sum)
	}
	// Every record is there once: 2000, a rotation and a continuation
	// record per rotation; the newest kept is the last written.
	recs := readRecords(t, path)
	if got := recs[len(recs)-1].Subject; got != "tool-1999" {
		t.Errorf("the newest record is %q", got)
	}
	if rotations := (sum.Last - 2000) / 2; rotations < 8 {
		t.Errorf("%d rotations for some 600 KB at 64 KiB", rotations)
	}
}

// A log that was never rotated verifies as one file that begins the log.
func TestVerifyFilesUnrotated(t *testing.T) {
	path, _ := writeLog(t, 5)
	files, _ := Files(path)
	sum, err := VerifyFiles(files)
	if err != nil || sum != (Summary{Files: 1, Records: 5, First: 1, Last: 5}) {
		t.Fatalf("VerifyFiles = %+v, %v", sum, err)
	}
}

// What someone who can write the folder can do to a rotated log, and
// what Verify says of it; the intact set is the control.
func TestRotationTampering(t *testing.T) {
	type setup func(t *testing.T, path string)
	remove := func(n int) setup {
		return func(t *testing.T, path string) { os.Remove(rotatedName(path, n)) }
	}
	for _, c := range []struct {
		name      string
		do        setup
		err       string // "" for none
		continues bool
		rotated   bool
	}{
		{"intact (control)", func(*testing.T, string) {}, "", true, false},
		{"a middle file removed", remove(2), "log.1.jsonl: line 1: the chain is broken here: this file does not continue log.3.jsonl", false, false},
		{"a middle file removed, the names closed up", func(t *testing.T, path string) {
			os.Remove(rotatedName(path, 2))
			os.Rename(rotatedName(path, 3), rotatedName(path, 2))
		}, "log.1.jsonl: line 1: the chain is broken here: this file does not continue log.2.jsonl", false, false},
		{"two files swapped", func(t *testing.T, path string) {
			os.Rename(rotatedName(path, 1), path+".x")
			os.Rename(rotatedName(path, 2), rotatedName(path, 1))
			os.Rename(path+".x", rotatedName(path, 2))
		}, "log.2.jsonl: line 1: the chain is broken here: this file does not continue log.3.jsonl", false, false},
		{"the newest file removed", func(t *testing.T, path string) { os.Remove(path) }, "", true, true},
		{"the newest file removed, a new log begun", func(t *testing.T, path string) {
			os.Remove(path)
			l, err := Open(path, Meta{Session: "s2", Profile: "p"})
			if err != nil {
				t.Fatal(err)
			}
			l.Record(jsonrpc.Event{Time: time.Now(), Decision: "start"})
			l.Close()
		}, "log.jsonl: line 1: the chain is broken here: a new log begins in this file, but " + "log.1.jsonl ends by rotating", false, false},
		{"the newest records of a middle file cut off", func(t *testing.T, path string) {
			b, _ := os.ReadFile(rotatedName(path, 2))
			lines := strings.SplitAfter(string(b), "\n")
			os.WriteFile(rotatedName(path, 2), []byte(strings.Join(lines[:len(lines)-3], "")), 0o600)
		}, "log.1.jsonl: line 1: the chain is broken here: " + "log.2.jsonl does not end with a rotation record", false, false},
		{"the continuation record of the oldest file removed", func(t *testing.T, path string) {
			b, _ := os.ReadFile(rotatedName(path, 3))
			_, rest, _ := strings.Cut(string(b), "\n")
			os.WriteFile(rotatedName(path, 3), []byte(rest), 0o600)
		}, "log.3.jsonl: line 1: the chain is broken here: a record before this one was removed", false, false},
		{"a record of a middle file edited", func(t *testing.T, path string) {
			b, _ := os.ReadFile(rotatedName(path, 2))
			os.WriteFile(rotatedName(path, 2), []byte(strings.Replace(string(b), `"decision":"allow"`, `"decision":"deny"`, 1)), 0o600)
		}, "log.2.jsonl: line 2: the record was edited", false, false},
		// The limits: the oldest files removed look like files rotated
		// away, and the newest records of the current file cut off leave
		// an intact chain.
		{"the oldest file removed (a limit)", remove(3), "", true, false},
		{"the newest records cut off (a limit)", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			lines := strings.SplitAfter(string(b), "\n")
			os.WriteFile(path, []byte(strings.Join(lines[:len(lines)-3], "")), 0o600)
		}, "", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := rotatedLog(t, 1200, 3)
			if fs, _ := Files(path); len(fs) != 4 {
				t.Fatalf("setup: %d files, want 4", len(fs))
			}
			c.do(t, path)
			files, _ := Files(path)
			sum, err := VerifyFiles(files)
			dir := filepath.Dir(path) + "/"
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir, "")
			}
			switch {
			case c.err == "" && err != nil:
				t.Errorf("VerifyFiles = %v, want no error", got)
			case c.err != "" && !strings.HasPrefix(got, c.err):
				t.Errorf("VerifyFiles = %v\nwant %s…", got, c.err)
			case c.err == "" && (sum.Continues != c.continues || sum.Rotated != c.rotated):
				t.Errorf("summary %+v, want Continues %v, Rotated %v", sum, c.continues, c.rotated)
			}
			var ve *VerifyError
			if err != nil && !errors.As(err, &ve) {
				t.Errorf("%v is not a VerifyError", err)
			}
		})
	}
}

// Sessions sharing a log rotate it under one lock: every record is
// written once, the chain runs through all the files, and none grows
// past the bound.
func TestSharedLogRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	const sessions, each = 4, 600
	var wg sync.WaitGroup
	for s := 0; s < sessions; s++ {
		l, err := Open(path, Meta{Session: fmt.Sprint(s), Profile: "p", MaxSize: MinMaxSize, Keep: 100})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.Close()
			for i := 0; i < each; i++ {
				if err := l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow", Subject: fmt.Sprint(i), Shape: strings.Repeat("x", 200)}); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					l.Sync()
				}
			}
		}()
	}
	wg.Wait()
	files, _ := Files(path)
	sum, err := VerifyFiles(files)
	if err != nil {
		t.Fatalf("VerifyFiles = %v", err)
	}
	if sum.Continues || sum.Rotated || sum.Files < 10 {
		t.Errorf("summary %+v: want the whole log, over 10 files", sum)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > MinMaxSize {
			t.Errorf("%s: %d bytes", f, st.Size())
		}
		for _, r := range readRecords(t, f) {
			if r.Decision != "allow" {
				continue
			}
			k := r.Session + "/" + r.Subject
			if seen[k] {
				t.Errorf("record %s written twice", k)
			}
			seen[k] = true
		}
	}
	if len(seen) != sessions*each {
		t.Errorf("%d records, want %d", len(seen), sessions*each)
	}
}

// A session that died after the rotation record, before the new file
// took the path, leaves a current file that ends with it; the next write
// finishes the rotation.
func TestInterruptedRotation(t *testing.T) {
	path, _ := writeLog(t, 3)
	l, err := Open(path, Meta{Session: "dead", Profile: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var sum [2 * sha256.Size]byte
	rot := l.seal(nil, l.seq+1, []byte(l.last), l.linkEntry(DecisionRotate, l.seq+1), &sum)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(rot)
	f.Close()
	l.f.Close() // dies: no Close, no more writes
	// and leaves the new file it had begun
	os.WriteFile(path+".new-0123456789ab", []byte("{}\n"), 0o600)

	next, err := Open(path, Meta{Session: "next", Profile: "p"})
	if err != nil {
		t.Fatal(err)
	}
	next.Record(jsonrpc.Event{Time: time.Now(), Decision: "start"})
	if err := next.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := Files(path)
	s, err := VerifyFiles(files)
	if err != nil || len(files) != 2 || s.Records != 6 || s.Rotated {
		t.Fatalf("files %v: VerifyFiles = %+v, %v; want 2 files, 6 records", files, s, err)
	}
	recs := readRecords(t, path)
	if len(recs) != 2 || recs[0].Decision != DecisionContinue || recs[1].Session != "next" {
		t.Errorf("the new file holds %+v", recs)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 2 {
		t.Errorf("the folder holds %v, want the two files only", entries)
	}
}

// A record never outgrows the bound: each string is clipped to MaxField
// bytes, with its length; what a peer sends cannot make one record the
// size of its frame.
func TestRecordClipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	l, _ := Open(path, Meta{Session: "s", Profile: "p", MaxSize: MinMaxSize})
	huge := strings.Repeat("é", MinMaxSize)
	id, _ := jsonrpc.ParseID([]byte(`"` + huge + `"`))
	l.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Method: huge, ID: id, Subject: huge, Rule: huge, Shape: huge, Note: huge})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if len(b) > 8*MaxField {
		t.Errorf("the record takes %d bytes", len(b))
	}
	recs := readRecords(t, path)
	for _, f := range []string{recs[0].Method, recs[0].Subject, recs[0].Rule, recs[0].Args, recs[0].Note} {
		if !strings.HasSuffix(f, fmt.Sprintf("…[%d bytes]", 2*MinMaxSize)) || len(f) > MaxField+20 || !utf8.ValidString(f) {
			t.Errorf("a field of %d bytes: %q…", len(f), f[:20])
		}
	}
	if !strings.HasSuffix(recs[0].ID, "bytes]") {
		t.Errorf("the id: %d bytes", len(recs[0].ID))
	}
	files, _ := Files(path)
	if _, err := VerifyFiles(files); err != nil {
		t.Fatal(err)
	}
}

// The path for a record larger than the bound still works (a record is
// clipped, so only a bound below MinMaxSize, which Open does not take,
// could meet it): it gets a file of its own, and nothing loops.
func TestRecordOverTheBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	l, _ := Open(path, Meta{Session: "s", Profile: "p"})
	l.meta.MaxSize = 2 * rotateRoom
	l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow"})
	l.Flush()
	l.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Note: strings.Repeat("n", MaxField), Subject: strings.Repeat("s", MaxField)})
	l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := Files(path)
	if _, err := VerifyFiles(files); err != nil || len(files) != 3 {
		t.Fatalf("files %v, VerifyFiles: %v; want 3 files", files, err)
	}
	if recs := readRecords(t, files[1]); len(recs) != 3 || recs[1].Decision != "deny" {
		t.Errorf("the big record's file: %+v", recs)
	}
}

// A log that is not a regular file is never rotated.
func TestPipeNotRotated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.jsonl")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip(err)
	}
	var read int
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			read++
		}
	}()
	l, err := Open(path, Meta{Session: "s", Profile: "p", MaxSize: MinMaxSize})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow", Shape: strings.Repeat("x", 200)})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	entries, _ := os.ReadDir(dir)
	if read != 1000 || len(entries) != 1 {
		t.Errorf("%d records through the pipe, folder %v; want 1000 and the pipe alone", read, entries)
	}
}
