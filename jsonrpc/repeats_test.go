package jsonrpc

import (
	"fmt"
	"github.com/mcpcell/mcpcell/internal/syncbuf"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hidingPolicy refuses tools/call of "hidden" and any method under x/,
// and allows the rest.
type hidingPolicy struct{ allowAll }

func (hidingPolicy) Message(dir Direction, m *Message) Verdict {
	switch {
	case strings.HasPrefix(m.Method, "x/"):
		return Verdict{Action: Refuse, Rule: "unknown-method", Err: &Error{Code: CodeMethodNotFound, Message: "Method not found: " + m.Method}}
	case m.Method == "tools/call" && strings.Contains(string(m.Params), `"hidden"`):
		return Verdict{Action: Refuse, Rule: `tools.deny "hidden"`, Subject: "hidden", Err: &Error{Code: CodeInvalidParams, Message: "Unknown tool: hidden"}}
	}
	return Verdict{Rule: "all"}
}

// clock is a time that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// kindOf names an event's kind as the tests count them.
func kindOf(e Event) string {
	return fmt.Sprintf("%v %v %s %s %s", e.Dir, e.Kind, e.Decision, e.Rule, e.Method)
}

// tally adds up, per kind, the events the records stand for (one for a
// record in full, Count for a count) and how many records each took.
func tally(events []Event) (events_, records map[string]int) {
	events_, records = map[string]int{}, map[string]int{}
	for _, e := range events {
		k := kindOf(e)
		records[k]++
		if e.Count > 0 {
			events_[k] += e.Count
		} else {
			events_[k]++
		}
	}
	return events_, records
}

// Repeats of one kind in one second become the first record in full and
// one count; nothing is lost, other kinds are not folded into it, and
// allowed calls are still recorded one by one.
func TestRepeats(t *testing.T) {
	clk := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	log := &eventLog{}
	notes := &syncbuf.Buffer{}
	ip := &Interposer{Policy: hidingPolicy{}, Recorder: log, Notes: notes, now: clk.Now}
	p := newPipeline(t, ip)
	// The server answers every request it gets.
	go func() {
		for {
			l, err := p.serverIn.ReadString('\n')
			if err != nil {
				return
			}
			m, err := Parse([]byte(strings.TrimSpace(l)))
			if err == nil && m.Kind == Request {
				io.WriteString(p.serverOut, string(ResultResponse(m.ID, []byte(`{}`)))+"\n")
			}
		}
	}()
	send := func(format string, args ...any) { io.WriteString(p.client, fmt.Sprintf(format, args...)+"\n") }
	// reply waits for the answer to id and checks it keeps the id.
	reply := func(id int, want string) {
		t.Helper()
		l := p.line(t, p.fromCell)
		if !strings.HasPrefix(l, `{"jsonrpc":"2.0","id":`+strconv.Itoa(id)+`,`) || !strings.Contains(l, want) {
			t.Fatalf("reply to %d: %s, want %s", id, l, want)
		}
	}
	id := 0
	call := func(method, params, want string) {
		t.Helper()
		id++
		send(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params)
		reply(id, want)
	}

	// Second 1: 100 hidden calls, 100 unknown methods (32 kinds are kept
	// apart, the rest counted together), 50 pings, 10 allowed calls, and
	// 40 responses from the server to ids nobody asked.
	for i := 0; i < 100; i++ {
		call("tools/call", `{"name":"hidden"}`, "Unknown tool: hidden")
		call(fmt.Sprintf("x/%d", i), `{}`, "Method not found")
	}
	for i := 0; i < 50; i++ {
		call("ping", `{}`, `"result":{}`)
	}
	for i := 0; i < 40; i++ {
		io.WriteString(p.serverOut, fmt.Sprintf(`{"jsonrpc":"2.0","id":"stray-%d","result":{}}`+"\n", i))
	}
	for i := 0; i < 10; i++ {
		call("tools/call", `{"name":"echo"}`, `"result":{}`)
	}
	first := log.all()
	// Second 2: the first hidden call after the second has ended writes
	// the counts of second 1, and is recorded in full again.
	clk.add(RepeatWindow)
	call("tools/call", `{"name":"hidden"}`, "Unknown tool: hidden")
	call("tools/call", `{"name":"hidden"}`, "Unknown tool: hidden")
	p.s.EndCounts()
	all := log.all()

	hidden := fmt.Sprintf("%v %v deny %s tools/call", Up, Request, `tools.deny "hidden"`)
	stray := fmt.Sprintf("%v %v drop unknown-id ", Down, Response)
	pingReq := fmt.Sprintf("%v %v allow all ping", Up, Request)
	pingResp := fmt.Sprintf("%v %v allow  ping", Down, Response)
	echoReq := fmt.Sprintf("%v %v allow all tools/call", Up, Request)
	other := fmt.Sprintf("%v %v deny unknown-method ", Up, Request)
	events, records := tally(all)
	for _, c := range []struct {
		kind            string
		events, records int
	}{
		{hidden, 102, 4}, // second 1: first + count; second 2: first + count
		{stray, 40, 2},
		{pingReq, 50, 2},
		{pingResp, 50, 2},
		{echoReq, 10, 10}, // the control: allowed calls one by one
	} {
		if events[c.kind] != c.events || records[c.kind] != c.records {
			t.Errorf("%s: %d events in %d records, want %d in %d", c.kind, events[c.kind], records[c.kind], c.events, c.records)
		}
	}
	// Unknown methods: each a kind of its own, up to maxMethods in the
	// second; the rest counted together.
	methods := 0
	for k, n := range records {
		if strings.Contains(k, "unknown-method x/") {
			methods++
			if n != 1 || events[k] != 1 {
				t.Errorf("%s: %d events in %d records, want 1 in 1", k, events[k], n)
			}
		}
	}
	if want := maxMethods; methods != want {
		t.Errorf("%d unknown methods recorded in full, want %d", methods, want)
	}
	if events[other] != 100-maxMethods || records[other] != 1 {
		t.Errorf("other methods: %d events in %d records, want %d in 1", events[other], records[other], 100-maxMethods)
	}
	// The first of each kind is recorded in full, with its id, before the
	// second ends.
	firstOf := map[string]Event{}
	for _, e := range first {
		if _, ok := firstOf[kindOf(e)]; !ok {
			firstOf[kindOf(e)] = e
		}
		if e.Count != 0 {
			t.Errorf("a count was written before its second ended: %+v", e)
		}
	}
	if e := firstOf[hidden]; e.ID.String() != "1" || e.Subject != "hidden" || e.Note != "Unknown tool: hidden" {
		t.Errorf("the first hidden call's record: %+v", e)
	}
	if e := firstOf[stray]; e.ID.String() != `"stray-0"` {
		t.Errorf("the first stray response's record: %+v", e)
	}
	// Stderr: the first stray response in full, then one count.
	got := notes.String()
	if n := strings.Count(got, "dropped a response from the server"); n != 1 {
		t.Errorf("%d stray responses noted one by one, want 1:\n%s", n, got)
	}
	if !regexp.MustCompile(`(?m)^mcpcell: 39 more responses from the server that no request was waiting for \(dropped\) in the same second$`).MatchString(got) {
		t.Errorf("no count of the stray responses on stderr:\n%s", got)
	}
	if n := strings.Count(got, "\n"); n != 2 {
		t.Errorf("%d lines on stderr, want 2:\n%s", n, got)
	}
}

// A count is written when its second ends, even when nothing follows.
func TestRepeatsWrittenWhenTheSecondEnds(t *testing.T) {
	log := &eventLog{}
	ip := &Interposer{Policy: hidingPolicy{}, Recorder: log}
	p := newPipeline(t, ip)
	for id := 1; id <= 3; id++ {
		io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+strconv.Itoa(id)+`,"method":"x/y"}`+"\n")
		p.line(t, p.fromCell)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		events := log.all()
		if len(events) == 2 && events[1].Count == 2 && strings.Contains(events[1].Note, "2 more of this kind") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("records %+v; want the first and a count of 2", events)
		}
	}
}

// quietPolicy drops the client's notifications/x with a note, as a
// policy that drops client notifications does.
type quietPolicy struct{ allowAll }

func (quietPolicy) Message(dir Direction, m *Message) Verdict {
	if m.Kind == Notification && m.Method == "notifications/x" {
		return Verdict{Action: Drop, Rule: "client-notifications", Note: "dropped the client's notifications/x"}
	}
	return Verdict{}
}

// Dropped notifications: the first recorded and noted in full, the rest
// of the second counted, in the log and on stderr.
func TestRepeatedNotificationDrops(t *testing.T) {
	log := &eventLog{}
	notes := &syncbuf.Buffer{}
	ip := &Interposer{Policy: quietPolicy{}, Recorder: log, Notes: notes, now: (&clock{now: time.Unix(1e9, 0)}).Now}
	p := newPipeline(t, ip)
	for i := 0; i < 30; i++ {
		io.WriteString(p.client, `{"jsonrpc":"2.0","method":"notifications/x","params":{"i":`+strconv.Itoa(i)+`}}`+"\n")
	}
	// A request after them: once it reaches the server, they have been
	// decided on.
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`+"\n")
	p.line(t, p.serverIn)
	p.s.EndCounts()
	events, records := tally(log.all())
	k := fmt.Sprintf("%v %v drop client-notifications notifications/x", Up, Notification)
	if events[k] != 30 || records[k] != 2 {
		t.Errorf("%d events in %d records, want 30 in 2: %+v", events[k], records[k], log.all())
	}
	want := "mcpcell: dropped the client's notifications/x\nmcpcell: 29 more notifications/x notifications from the client with a note like the one before in the same second\n"
	if got := notes.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
}

// One side's flood of ever new kinds records at most maxKinds of them in
// full a second, and counts the rest together; the other side's events
// are still recorded in full.
func TestRepeatsKindsPerSide(t *testing.T) {
	log := &eventLog{}
	clk := &clock{now: time.Unix(1e9, 0)}
	s := (&Interposer{Recorder: log, now: clk.Now}).NewSession()
	for i := 0; i < 100; i++ {
		s.event(Event{Dir: Down, Kind: Notification, Decision: "drop", Rule: fmt.Sprintf("rule %d", i), Method: "m"}, "", "")
	}
	s.event(Event{Dir: Up, Kind: Request, Decision: "deny", Rule: "tools.deny", Method: "tools/call", Subject: "hidden"}, "", "")
	s.EndCounts()
	events, records := tally(log.all())
	other := fmt.Sprintf("%v %v drop %s ", Down, Kind(0), otherKinds)
	full := 0
	for k := range records {
		if strings.Contains(k, "drop rule ") {
			full++
		}
	}
	if full != maxKinds || events[other] != 100-maxKinds || records[other] != 1 {
		t.Errorf("%d kinds in full, %d events in %d counts; want %d, %d in 1", full, events[other], records[other], maxKinds, 100-maxKinds)
	}
	if k := fmt.Sprintf("%v %v deny tools.deny tools/call", Up, Request); records[k] != 1 || events[k] != 1 {
		t.Errorf("the client's refused call: %d events in %d records", events[k], records[k])
	}
	s.repeats.timer.Stop()
}

// A window keeps a bounded part of what a peer sent, not its frames:
// 32 kinds of megabyte names are not 32 MB held for a second.
func TestRepeatsKeepNoFrame(t *testing.T) {
	s := (&Interposer{Recorder: &eventLog{}, now: (&clock{now: time.Unix(1e9, 0)}).Now}).NewSession()
	big := strings.Repeat("é", 1<<19)
	for i := 0; i < 40; i++ {
		s.event(Event{Dir: Down, Kind: Request, Decision: "deny", Rule: fmt.Sprint(i), Method: fmt.Sprint(i) + big, Subject: big, Note: big, Shape: big}, "", "")
	}
	s.repeats.mu.Lock()
	defer s.repeats.mu.Unlock()
	defer s.repeats.timer.Stop()
	held := 0
	for k, c := range s.repeats.kinds {
		held += len(k.method) + len(c.first.Method) + len(c.first.Subject) + len(c.first.Note) + len(c.first.Shape)
	}
	if held > 2*1024*len(s.repeats.kinds) {
		t.Errorf("the window holds %d bytes of names for %d kinds", held, len(s.repeats.kinds))
	}
}
