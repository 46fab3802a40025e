package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/jsonrpc/audit"
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
