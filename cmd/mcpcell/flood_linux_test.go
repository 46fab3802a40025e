package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
)

// floodN is how many of each kind a flood sends; slowN, a flood of one
// line at a time.
const floodN, slowN = 5000, 400

// The bounds of jsonrpc's repeat counting: per kind, a record in full and
// a count per second; per rule, 16 methods kept apart and one count of
// the others.
const methodsApart = 16

// kinds groups records by kind (direction, message kind, decision, rule,
// method) and adds up the events they stand for: one for a record in
// full, its count for a count.
type kindTally struct {
	events, records int
	first           *audit.Record // the first record in full
}

func tallyKinds(recs []audit.Record) map[string]*kindTally {
	out := map[string]*kindTally{}
	for i := range recs {
		r := &recs[i]
		k := strings.Join([]string{r.Dir, r.Kind, r.Decision, r.Rule, r.Method}, "|")
		c := out[k]
		if c == nil {
			c = &kindTally{}
			out[k] = c
		}
		c.records++
		if r.Count > 0 {
			c.events += r.Count
		} else {
			c.events++
			if c.first == nil {
				c.first = r
			}
		}
	}
	return out
}

// find returns the tallies whose key matches re, merged.
func find(tallies map[string]*kindTally, re string) (kindTally, []string) {
	var sum kindTally
	var keys []string
	for k, c := range tallies {
		if regexp.MustCompile(re).MatchString(k) {
			keys = append(keys, k)
			sum.events += c.events
			sum.records += c.records
			if sum.first == nil || (c.first != nil && c.first.Seq < sum.first.Seq) {
				sum.first = c.first
			}
		}
	}
	return sum, keys
}

// finish closes the client's side and waits for mcpcell to exit.
func finish(t *testing.T, s *session) {
	t.Helper()
	s.in.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	for {
		select {
		case <-done:
			return
		case _, ok := <-s.lines:
			if !ok {
				s.lines = nil // the reader is done; wait for the exit
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("mcpcell did not exit; stderr:\n%s", s.stderr.String())
		}
	}
}

// noteCount adds up what stderr says of one kind: each line in full
// (matching full) is one, each count line (matching count, with the
// number as its first group) its number. lines is how many lines that
// took.
func noteCount(stderr, full, count string) (events, lines int) {
	for _, l := range strings.Split(stderr, "\n") {
		if m := regexp.MustCompile(count).FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			events += n
			lines++
		} else if strings.Contains(l, full) {
			events++
			lines++
		}
	}
	return events, lines
}

// A hostile server floods mcpcell with what it refuses or drops: responses
// to ids nobody asked, non-JSON lines, sampling requests the profile
// denies, requests of ever new methods, frames that fail strict decoding,
// and progress notifications. The audit log and stderr stay bounded by the
// time the flood takes, not by its size; the first of each kind is
// recorded in full, every event is counted, one kind is never counted as
// another, and the call after the flood is recorded in full.
func TestFloodFromServer(t *testing.T) {
	profile := writeProfile(t, "[client]\nsampling = false\n")
	s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{"sampling":{}},"clientInfo":{"name":"c","version":"1"}}`)
	start := time.Now()
	r := s.call(1, "tools/call", fmt.Sprintf(`{"name":"amplify","arguments":{"what":["unknown-id","non-json","sampling","methods","invalid","progress"],"n":%d}}`, floodN))
	if got := resultText(r); got != "amplified" {
		t.Fatalf("amplify: %v", r)
	}
	if got := resultText(s.call(2, "tools/call", `{"name":"echo","arguments":{"after":"flood"}}`)); got != `echo:{"after":"flood"}` {
		t.Fatalf("the call after the flood: %q", got)
	}
	finish(t, s)
	elapsed := time.Since(start)
	progress := 0
	for _, f := range s.frames {
		if strings.Contains(string(f), `"notifications/progress"`) {
			progress++
		}
	}
	if progress != floodN {
		t.Errorf("%d progress notifications reached the client, want %d", progress, floodN)
	}

	recs := auditRecords(t, profile)
	tallies := tallyKinds(recs)
	// Per kind: a record in full and a count in each second of the flood.
	seconds := int(math.Ceil(elapsed.Seconds())) + 1
	bound := 2 * seconds
	for _, c := range []struct {
		name, key string
		bound     int
		firstID   string
	}{
		{"responses to unknown ids", `^server-to-client\|response\|drop\|unknown-id\|$`, bound, `"stray-0"`},
		{"non-JSON lines", `^server-to-client\|\|drop\|non-json\|$`, bound, ""},
		{"denied sampling requests", `^server-to-client\|request\|deny\|client.sampling = false\|sampling/createMessage$`, bound, `"s-0"`},
		{"requests of unknown methods", `^server-to-client\|request\|deny\|unknown-method\|`, (methodsApart + 1) * bound, `"m-0"`},
		{"frames refused by strict decoding", `^server-to-client\|response\|deny\|strict-json\|$`, bound, `"d-0"`},
		{"progress notifications", `^server-to-client\|notification\|allow\|notification\|notifications/progress$`, bound, ""},
	} {
		got, keys := find(tallies, c.key)
		t.Logf("%s: %d events in %d records (%v)", c.name, got.events, got.records, keys)
		if got.events != floodN {
			t.Errorf("%s: the records stand for %d events, want %d (nothing lost, nothing counted twice)", c.name, got.events, floodN)
		}
		if got.records > c.bound {
			t.Errorf("%s: %d records for a flood of %d in %v, want at most %d", c.name, got.records, floodN, elapsed, c.bound)
		}
		if got.first == nil || got.first.ID != c.firstID {
			t.Errorf("%s: the first is not recorded in full with its id %s: %+v", c.name, c.firstID, got.first)
		}
	}
	if echo, _ := find(tallies, `^server-to-client\|response\|allow\|reply\|tools/call$`); echo.records != 2 || echo.events != 2 {
		t.Errorf("the amplify and echo replies: %d events in %d records, want 2 in 2", echo.events, echo.records)
	}
	if len(recs) > 200 {
		t.Errorf("%d audit records for a flood of %d frames", len(recs), 6*floodN)
	}

	stderr := s.stderr.String()
	for _, c := range []struct{ name, full, count string }{
		{"responses to unknown ids", "dropped a response from the server with id", `^mcpcell: (\d+) more responses from the server that no request was waiting for \(dropped\) in the same second$`},
		{"non-JSON lines", "the server wrote a non-JSON line on stdout", `^mcpcell: (\d+) more non-JSON lines from the server on stdout \(not passed to the client\) in the same second$`},
		{"frames refused by strict decoding", "refused a frame from the server: invalid JSON", `^mcpcell: (\d+) more frames refused from the server \(strict-json\) in the same second$`},
	} {
		events, lines := noteCount(stderr, c.full, c.count)
		t.Logf("stderr, %s: %d events in %d lines", c.name, events, lines)
		if events != floodN || lines > bound {
			t.Errorf("stderr, %s: %d events in %d lines, want %d in at most %d", c.name, events, lines, floodN, bound)
		}
	}
	t.Logf("%d audit records, %d bytes on stderr, in %v", len(recs), len(stderr), elapsed)
	if len(stderr) > 16<<10 {
		t.Errorf("%d bytes on stderr for the flood", len(stderr))
	}
}

// A hostile client floods mcpcell with pings, calls of a hidden tool,
// requests of ever new methods and responses to ids nobody asked; every
// request still gets its answer with its id, and the audit log stays
// bounded by the time the flood takes.
func TestFloodFromClient(t *testing.T) {
	profile := writeProfile(t, "[tools]\ndeny = [\"secret_*\"]\n[tools.args.read_file]\npath = { within = [\"${PROJECT}\"] }\n")
	s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	start := time.Now()
	// In rounds that fit the pipes. The fake server writes each answer
	// before it reads on; under a deeper pipeline mcpcell deadlocks with
	// such a server (a bug of the pumps, left to their owners: the server
	// pump waits in flush for the writer to the server, which the client
	// pump holds while the server, blocked on its own output, reads nothing).
	const round = 250
	answered := map[int]bool{}
	for r := 0; r < floodN/round; r++ {
		var b strings.Builder
		for i := r * round; i < (r+1)*round; i++ {
			id := 10 + 4*i
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"ping"}`+"\n", id)
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"secret_admin","arguments":{}}}`+"\n", id+1)
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"x/%d"}`+"\n", id+2, i)
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":"stray-%d","result":{}}`+"\n", i)
		}
		io.WriteString(s.in, b.String())
		for len(answered) < 3*(r+1)*round {
			var m struct {
				ID     json.RawMessage
				Result json.RawMessage
				Error  *struct {
					Code    int
					Message string
				}
			}
			f := s.next()
			if err := json.Unmarshal(f, &m); err != nil {
				t.Fatalf("frame %s: %v", f, err)
			}
			id, err := strconv.Atoi(string(m.ID))
			if err != nil || id < 10 || answered[id] {
				t.Fatalf("an answer with an id not asked, or twice: %s", f)
			}
			answered[id] = true
			var ok bool
			switch (id - 10) % 4 {
			case 0:
				ok = m.Result != nil
			case 1:
				ok = m.Error != nil && m.Error.Code == -32602 && m.Error.Message == "Unknown tool: secret_admin"
			case 2:
				ok = m.Error != nil && m.Error.Code == -32601
			}
			if !ok {
				t.Fatalf("answer %s", f)
			}
		}
	}
	// Controls, after the flood: a broken argument constraint and an
	// allowed call are each recorded in full, not counted with the flood.
	r := s.call(1, "tools/call", `{"name":"read_file","arguments":{"path":"/etc/passwd"}}`)
	if !strings.Contains(resultText(r), "within") {
		t.Errorf("the constraint: %v", r)
	}
	if got := resultText(s.call(2, "tools/call", `{"name":"echo","arguments":{}}`)); got != "echo:{}" {
		t.Errorf("echo: %q", got)
	}
	finish(t, s)
	elapsed := time.Since(start)

	recs := auditRecords(t, profile)
	tallies := tallyKinds(recs)
	seconds := int(math.Ceil(elapsed.Seconds())) + 1
	bound := 2 * seconds
	for _, c := range []struct {
		name, key string
		events    int
		bound     int
		firstID   string
	}{
		{"pings", `^client-to-server\|request\|allow\|[^|]*\|ping$`, floodN, bound, "10"},
		{"their answers", `^server-to-client\|response\|allow\|reply\|ping$`, floodN, bound, "10"},
		{"calls of a hidden tool", `^client-to-server\|request\|deny\|tools.deny "secret_\*".*\|tools/call$`, floodN, bound, "11"},
		{"requests of unknown methods", `^client-to-server\|request\|deny\|unknown-method\|`, floodN, (methodsApart + 1) * bound, "12"},
		{"responses to unknown ids", `^client-to-server\|response\|drop\|unknown-id\|$`, floodN, bound, `"stray-0"`},
		{"the broken constraint (control)", `^client-to-server\|request\|answer\|tools.args.read_file.path.*\|tools/call$`, 1, 1, "1"},
		{"the allowed call (control)", `^client-to-server\|request\|allow\|tools.allow absent.*\|tools/call$`, 1, 1, "2"},
	} {
		got, keys := find(tallies, c.key)
		t.Logf("%s: %d events in %d records (%v)", c.name, got.events, got.records, keys)
		if got.events != c.events {
			t.Errorf("%s: the records stand for %d events, want %d", c.name, got.events, c.events)
		}
		if got.records > c.bound {
			t.Errorf("%s: %d records for %d in %v, want at most %d", c.name, got.records, c.events, elapsed, c.bound)
		}
		if got.first == nil || got.first.ID != c.firstID {
			t.Errorf("%s: the first is not recorded in full with its id %s: %+v", c.name, c.firstID, got.first)
		}
	}
	if got, _ := find(tallies, `^client-to-server\|request\|deny\|tools.deny`); got.first != nil && got.first.Subject != "secret_admin" {
		t.Errorf("the first hidden call's record lacks its tool: %+v", got.first)
	}
	stderr := s.stderr.String()
	events, lines := noteCount(stderr, "dropped a response from the client with id", `^mcpcell: (\d+) more responses from the client that no request was waiting for \(dropped\) in the same second$`)
	if events != floodN || lines > bound {
		t.Errorf("stderr: %d stray responses in %d lines, want %d in at most %d", events, lines, floodN, bound)
	}
	t.Logf("%d audit records, %d bytes on stderr, in %v", len(recs), len(stderr), elapsed)
}

// A client that closes its end of mcpcell's stdout while the server
// floods: every frame for it fails to be written, and stderr says so once
// a second, with a count, not once a frame.
func TestFloodBrokenClient(t *testing.T) {
	profile := writeProfile(t, "")
	cmd := cellCommand(t, profile, os.Args[0], "__fakeserver", "--ignore-eof")
	in, out, errOut, exited := rawStart(t, cmd)
	var stderr strings.Builder
	drained := make(chan struct{})
	go func() { io.Copy(&stderr, errOut); close(drained) }()
	r := bufio.NewReader(out)
	rawCall(t, in, r, 0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	out.Close()
	start := time.Now()
	// A line at a time, so that each is a write of its own to the client.
	fmt.Fprintf(in, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"amplify","arguments":{"what":["slow-progress"],"n":%d}}}`+"\n", slowN)
	in.Close() // the server, deaf to EOF, floods on (under 0.5 s) until the ladder's SIGTERM
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("mcpcell did not exit")
	}
	<-drained
	elapsed := time.Since(start)
	bound := 2 * (int(math.Ceil(elapsed.Seconds())) + 1)
	events, lines := noteCount(stderr.String(), "writing to the client:", `^mcpcell: (\d+) more failed writes to the client in the same second$`)
	t.Logf("failed writes: %d in %d lines of stderr (%d bytes) in %v", events, lines, stderr.Len(), elapsed)
	if lines == 0 || lines > bound {
		t.Errorf("failed writes to the client: %d lines on stderr, want 1 to %d:\n%s", lines, bound, stderr.String())
	}
	// The control: the flood came, was counted in the log, and failed to
	// reach the client more often than stderr has lines for.
	progress, _ := find(tallyKinds(auditRecords(t, profile)), `\|notifications/progress$`)
	if progress.events != slowN || events < slowN/2 {
		t.Errorf("%d progress notifications in the log, %d failed writes; want %d, and most of them failed", progress.events, events, slowN)
	}
}

// A hostile server floods the client with requests: roots/list, which
// the profile allows and the client answers, and elicitation, which
// mcpcell declines in the client's place. Either would fill the log at
// the server's will, and rotate older records out of it; both are
// counted, the client's answers too.
func TestFloodServerRequests(t *testing.T) {
	profile := writeProfile(t, "[client]\nroots = true\nelicitation = false\n")
	s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{"roots":{}},"clientInfo":{"name":"c","version":"1"}}`)
	start := time.Now()
	s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"amplify","arguments":{"what":["roots","elicit"],"n":%d}}}`, floodN))
	roots := 0
	for {
		var m struct {
			ID     json.RawMessage
			Method string
			Result json.RawMessage
		}
		json.Unmarshal(s.next(), &m)
		if m.Method == "roots/list" {
			roots++
			s.send(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{"roots":[]}}`)
			continue
		}
		if m.Method != "" {
			t.Fatalf("the client got a %s request", m.Method)
		}
		if string(m.ID) == "1" {
			break
		}
	}
	// The last answers are on their way: a call after them.
	s.call(2, "tools/call", `{"name":"echo","arguments":{}}`)
	finish(t, s)
	elapsed := time.Since(start)
	if roots != floodN {
		t.Errorf("the client got %d roots/list requests, want %d", roots, floodN)
	}
	tallies := tallyKinds(auditRecords(t, profile))
	bound := 2 * (int(math.Ceil(elapsed.Seconds())) + 1)
	for _, c := range []struct{ name, key, firstID string }{
		{"roots/list requests", `^server-to-client\|request\|allow\|client.roots = true\|roots/list$`, `"r-0"`},
		{"the client's answers", `^client-to-server\|response\|allow\|reply\|roots/list$`, `"r-0"`},
		{"elicitations declined by mcpcell", `^server-to-client\|request\|answer\|client.elicitation = false\|elicitation/create$`, `"e-0"`},
	} {
		got, keys := find(tallies, c.key)
		t.Logf("%s: %d events in %d records (%v)", c.name, got.events, got.records, keys)
		if got.events != floodN || got.records > bound {
			t.Errorf("%s: %d events in %d records in %v, want %d in at most %d", c.name, got.events, got.records, elapsed, floodN, bound)
		}
		if got.first == nil || got.first.ID != c.firstID {
			t.Errorf("%s: the first is not recorded in full with its id %s: %+v", c.name, c.firstID, got.first)
		}
	}
}

// A hostile server sends requests and notifications whose methods are
// new each time and some 60 KB long: each record keeps a bounded part of
// what the peer chose, so the log grows by a bounded amount a second,
// not by the size of the frames (which could otherwise rotate the log
// away in moments).
func TestFloodLongNames(t *testing.T) {
	const n = 300
	profile := writeProfile(t, "")
	s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	start := time.Now()
	s.call(1, "tools/call", fmt.Sprintf(`{"name":"amplify","arguments":{"what":["long-methods","long-notifications"],"n":%d}}`, n))
	finish(t, s)
	elapsed := time.Since(start)
	recs := auditRecords(t, profile)
	logs, _ := filepath.Glob(filepath.Join(filepath.Dir(profile)+"-xdg", "state", "mcpcell", "audit", "*.jsonl"))
	b, _ := os.ReadFile(logs[0])
	longest := 0
	for _, l := range strings.Split(string(b), "\n") {
		longest = max(longest, len(l))
	}
	tallies := tallyKinds(recs)
	// Beyond 16 methods of a rule, or 32 kinds from one side, in a second,
	// the rest are counted together.
	requests, _ := find(tallies, `^server-to-client\|(request\|deny\|unknown-method|\|deny\|repeats: )`)
	notes, _ := find(tallies, `^server-to-client\|(notification\|allow\|notification|\|allow\|repeats: )`)
	t.Logf("%d records, %d bytes, the longest %d bytes, for %d MB of frames in %v", len(recs), len(b), longest, 2*n*60000>>20, elapsed)
	if requests.events != n || notes.events != n {
		t.Errorf("counted %d requests and %d notifications, want %d each", requests.events, notes.events, n)
	}
	if longest > 4*audit.MaxField {
		t.Errorf("a record of %d bytes", longest)
	}
	bound := 2 * (methodsApart + 1) * (int(math.Ceil(elapsed.Seconds())) + 1)
	if requests.records > bound || notes.records > bound {
		t.Errorf("%d and %d records, want at most %d each", requests.records, notes.records, bound)
	}
}

// The flood in one frame: a 2025-03-26 batch of pings and hidden-tool
// calls. Each call is answered with its id; the log counts them as it
// counts them one frame each.
func TestFloodBatch(t *testing.T) {
	const n = 500 // pairs: a batch holds at most jsonrpc.BatchKeep messages
	profile := writeProfile(t, "[tools]\ndeny = [\"secret_*\"]\n")
	s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver", "--version=2025-03-26"))
	s.call(0, "initialize", `{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	start := time.Now()
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"ping"},{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"secret_admin","arguments":{}}}`, 10+2*i, 11+2*i)
	}
	b.WriteByte(']')
	s.send(b.String())
	answered := map[int]bool{}
	for len(answered) < 2*n {
		f := s.next()
		var batch []json.RawMessage
		if json.Unmarshal(f, &batch) != nil {
			batch = []json.RawMessage{f}
		}
		for _, r := range batch {
			var m struct {
				ID    int
				Error *struct{ Code int }
			}
			json.Unmarshal(r, &m)
			if answered[m.ID] || (m.ID%2 == 1) != (m.Error != nil && m.Error.Code == -32602) {
				t.Fatalf("answer %s", r)
			}
			answered[m.ID] = true
		}
	}
	finish(t, s)
	elapsed := time.Since(start)
	tallies := tallyKinds(auditRecords(t, profile))
	bound := 2 * (int(math.Ceil(elapsed.Seconds())) + 1)
	for _, key := range []string{`^client-to-server\|request\|allow\|[^|]*\|ping$`, `^server-to-client\|response\|allow\|reply\|ping$`, `^client-to-server\|request\|deny\|tools.deny .*\|tools/call$`} {
		got, _ := find(tallies, key)
		if got.events != n || got.records > bound {
			t.Errorf("%s: %d events in %d records, want %d in at most %d", key, got.events, got.records, n, bound)
		}
	}
}
