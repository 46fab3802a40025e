package main

import (
	"bufio"
	"encoding/json"
	"fmt"
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
	n := 0 // records written: m00000, m00001, …, some 250 bytes each
	write := func(k int) {
		for end := n + k; n < end; n++ {
			log.Record(jsonrpc.Event{Time: time.Now(), Decision: "allow", Method: fmt.Sprintf("m%05d", n), Shape: strings.Repeat("a:string,", 20)})
			if n%10 == 0 {
				log.Flush()
			}
		}
		log.Flush()
	}
	write(1500) // 5 rotations: the first records are gone
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
	// The log rotates under the follower, some 80% of a file at a time.
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
