package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

func writeLog(t *testing.T, n int) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a", "log.jsonl")
	l, err := Open(path, Meta{Session: "s1", Profile: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := l.Record(jsonrpc.Event{Time: time.Unix(int64(i), 0), Dir: jsonrpc.Up, Kind: jsonrpc.Request, Method: "tools/call", Subject: "t", Decision: "allow", Shape: "a:string"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	b, _ := os.ReadFile(path)
	return path, bytes.SplitAfter(b, []byte("\n"))[:n]
}

func TestVerifyIntact(t *testing.T) {
	path, _ := writeLog(t, 5)
	f, _ := os.Open(path)
	defer f.Close()
	if n, err := verify(f); err != nil || n != 5 {
		t.Fatalf("verify = %d, %v", n, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	dir, _ := os.Stat(filepath.Dir(path))
	if dir.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", dir.Mode().Perm())
	}
}

func TestVerifyTampering(t *testing.T) {
	_, lines := writeLog(t, 5)
	join := func(ls ...[]byte) []byte { return bytes.Join(ls, nil) }
	edited := bytes.Replace(lines[2], []byte(`"decision":"allow"`), []byte(`"decision":"deny"`), 1)
	for _, c := range []struct {
		name string
		log  []byte
		line int
		msg  string
	}{
		{"edited", join(lines[0], lines[1], edited, lines[3], lines[4]), 3, "edited"},
		{"removed", join(lines[0], lines[1], lines[3], lines[4]), 3, "chain is broken"},
		{"first removed", join(lines[1], lines[2], lines[3], lines[4]), 1, "chain is broken"},
		{"reordered", join(lines[0], lines[2], lines[1], lines[3], lines[4]), 2, "chain is broken"},
		{"duplicated", join(lines[0], lines[1], lines[1], lines[2]), 3, "chain is broken"},
		{"last edited", join(lines[0], lines[1], lines[2], lines[3], bytes.Replace(lines[4], []byte(`"t"`), []byte(`"u"`), 1)), 5, "edited"},
		{"hash stripped", join(lines[0], []byte(`{"seq":2}`+"\n")), 2, "not a sealed record"},
	} {
		n, err := verify(bytes.NewReader(c.log))
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Line != c.line || !strings.Contains(ve.Msg, c.msg) {
			t.Errorf("%s: verify = %d, %v; want line %d: %s", c.name, n, err, c.line, c.msg)
		}
	}
}

// Two sessions appending to one log keep one chain.
func TestSharedLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	var wg sync.WaitGroup
	for s := 0; s < 3; s++ {
		l, err := Open(path, Meta{Session: string(rune('a' + s)), Profile: "p"})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.Close()
			for i := 0; i < 50; i++ {
				if err := l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	f, _ := os.Open(path)
	defer f.Close()
	if n, err := verify(f); err != nil || n != 150 {
		t.Fatalf("verify = %d, %v", n, err)
	}
}

func TestRedactAndNoValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	l, _ := Open(path, Meta{Session: "s", Profile: "p", Redact: func(s string) string { return strings.ReplaceAll(s, "sekrit", "[redacted:X]") }})
	l.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Note: "value sekrit here", Subject: "file:///sekrit", Method: "notifications/sekrit"})
	l.Close()
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte("sekrit")) || !bytes.Contains(b, []byte("[redacted:X]")) {
		t.Errorf("log = %s", b)
	}
}

func TestOpenFails(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o600)
	if _, err := Open(filepath.Join(blocker, "log.jsonl"), Meta{}); err == nil {
		t.Fatal("Open under a regular file succeeded")
	}
}

// BenchmarkRecord is one audit record written on its own: encoding,
// hashing, the file lock and the append. BenchmarkRecordBurst is the same
// for a batch of 32 (as Sync makes under load), per record.
func BenchmarkRecord(b *testing.B) { benchRecord(b, 1) }

func BenchmarkRecordBurst(b *testing.B) { benchRecord(b, 32) }

func benchRecord(b *testing.B, burst int) {
	l, err := Open(filepath.Join(b.TempDir(), "log.jsonl"), Meta{Session: "s", Profile: "p"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := jsonrpc.Event{Time: time.Now(), Dir: jsonrpc.Up, Kind: jsonrpc.Request, Method: "tools/call", Subject: "echo", Decision: "allow", Rule: "tools.allow absent: all allowed", Shape: "message:string", Size: 120}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := l.Record(e); err != nil {
			b.Fatal(err)
		}
		if i%burst == burst-1 {
			if err := l.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// After a failed write, Flush reports it and every later Record fails, so
// the interposer refuses new calls.
func TestWriteFailureSticks(t *testing.T) {
	l, err := Open("/dev/full", Meta{Session: "s", Profile: "p"})
	if err != nil {
		t.Skipf("cannot open /dev/full: %v", err)
	}
	defer l.Close()
	if err := l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow"}); err != nil {
		t.Fatalf("the first Record only queues: %v", err)
	}
	if err := l.Flush(); err == nil || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("Flush = %v, want the disk-full error", err)
	}
	if err := l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow"}); err == nil {
		t.Fatalf("Record after a failed write succeeded")
	}
}

// toRecord is the Record an entry stands for, built field by field.
func (l *Log) toRecord(seq int64, prev string, en *entry) Record {
	e := en.e
	red := func(s string) string {
		if l.meta.Redact != nil {
			return l.meta.Redact(s)
		}
		return s
	}
	r := Record{Seq: seq, Time: e.Time.UTC().Format(time.RFC3339Nano), Session: clip(l.meta.Session), Profile: clip(l.meta.Profile),
		Client: clip(red(en.client)), Kind: kindName(e.Kind), Method: clip(red(e.Method)), Subject: clip(red(e.Subject)), Decision: clip(e.Decision),
		Rule: clip(red(e.Rule)), Args: clip(red(e.Shape)), Size: e.Size, IsError: e.IsError, Count: e.Count, Note: clip(red(e.Note)), Prev: prev}
	if e.Dir != 0 {
		r.Dir = e.Dir.String()
	}
	if !e.ID.IsZero() {
		r.ID = clip(red(e.ID.String()))
	}
	if e.Duration > 0 {
		r.DurationMs = float64(e.Duration.Microseconds()) / 1000
	}
	return r
}

// The records are written without encoding/json, and must be the bytes
// it would write.
func FuzzEncoding(f *testing.F) {
	f.Add("tools/call", "echo", "a:string", "note <b> & \"q\" \\ \n\t\x01\u2028\u2029 ü 🙂 \xff\xfe", "c", int64(1500), 42, true, `"7"`)
	f.Add("", "", "", "", "", int64(0), 0, false, ``)
	f.Add("m", "file:///x?y=1&z=2", "", "\x7f\x00\x1f", "Claude Code", int64(999), -1, false, `12`)
	f.Add(strings.Repeat("m", 2000), strings.Repeat("é", 600), "", strings.Repeat("n", 1023)+"é", "", int64(0), 0, false, `"`+strings.Repeat("i", 1100)+`"`)
	f.Fuzz(func(t *testing.T, method, subject, shape, note, client string, durUs int64, size int, isErr bool, rawID string) {
		l := &Log{meta: Meta{Session: "s\u00e9", Profile: "p<1>", Redact: func(s string) string { return strings.ReplaceAll(s, "sekrit", "[redacted:X]") }}}
		id, _ := jsonrpc.ParseID([]byte(rawID)) // total: any bytes
		en := entry{client: client, e: jsonrpc.Event{Time: time.Unix(1700000000, 123456789).Add(time.Duration(size) * time.Millisecond), Dir: jsonrpc.Direction(size & 1), Kind: jsonrpc.Kind(size & 3),
			Method: method, ID: id, Subject: subject, Decision: "allow", Rule: "r " + note, Shape: shape, Duration: time.Duration(durUs) * time.Microsecond, Size: size, IsError: isErr, Count: size / 3, Note: note}}
		got := append(l.appendRecord(nil, 7, []byte("prevhash"), &en), '}')
		want, err := json.Marshal(l.toRecord(7, "prevhash", &en))
		if err != nil {
			t.Skip(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("appendRecord:\n%s\njson.Marshal:\n%s", got, want)
		}
	})
}

// A record is written without Sync or Flush, within minGap (the timer),
// and Sync under load leaves the write to the timer.
func TestWrittenSoon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	l, err := Open(path, Meta{Session: "s", Profile: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lines := func() int {
		b, _ := os.ReadFile(path)
		return bytes.Count(b, []byte("\n"))
	}
	wait := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); lines() != n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d records written, want %d", lines(), n)
			}
		}
	}
	l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow", Method: "stuck"})
	wait(1)
	// Idle: Sync writes at once.
	time.Sleep(2 * minGap)
	l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow"})
	l.Sync()
	if n := lines(); n != 2 {
		t.Fatalf("after an idle Sync %d records written, want 2", n)
	}
	// Busy: a Sync right after a write leaves it to the timer (here an
	// hour away, so that only Sync could write it now).
	wait(2)
	l.mu.Lock()
	l.gap, l.lastWrite = time.Hour, time.Now()
	l.mu.Unlock()
	l.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow"})
	l.Sync()
	if n := lines(); n != 2 {
		t.Fatalf("a Sync right after a write wrote at once (%d records)", n)
	}
	l.Flush()
	wait(3)
	f, _ := os.Open(path)
	defer f.Close()
	if n, err := verify(f); err != nil || n != 3 {
		t.Fatalf("verify = %d, %v", n, err)
	}
}
