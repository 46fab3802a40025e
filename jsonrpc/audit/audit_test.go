package audit

import (
	"bytes"
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
	if n, err := Verify(f); err != nil || n != 5 {
		t.Fatalf("Verify = %d, %v", n, err)
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
		n, err := Verify(bytes.NewReader(c.log))
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Line != c.line || !strings.Contains(ve.Msg, c.msg) {
			t.Errorf("%s: Verify = %d, %v; want line %d: %s", c.name, n, err, c.line, c.msg)
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
	if n, err := Verify(f); err != nil || n != 150 {
		t.Fatalf("Verify = %d, %v", n, err)
	}
}

func TestRedactAndNoValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	l, _ := Open(path, Meta{Session: "s", Profile: "p", Redact: func(s string) string { return strings.ReplaceAll(s, "sekrit", "[redacted:X]") }})
	l.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Note: "value sekrit here", Subject: "file:///sekrit"})
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

// BenchmarkRecord is one audit record: encoding, hashing, the file lock
// and the append.
func BenchmarkRecord(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "log.jsonl"), Meta{Session: "s", Profile: "p"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := jsonrpc.Event{Time: time.Now(), Dir: jsonrpc.Up, Kind: jsonrpc.Request, Method: "tools/call", Subject: "echo", Decision: "allow", Rule: "tools.allow absent: all allowed", Shape: "message:string", Size: 120}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Record(e); err != nil {
			b.Fatal(err)
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
