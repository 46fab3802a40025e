package jsonrpc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

type allowAll struct{}

func (allowAll) Message(Direction, *Message) Verdict      { return Verdict{} }
func (allowAll) Reply(Direction, *Call, *Message) Verdict { return Verdict{} }
func (allowAll) Batches() bool                            { return false }

type failingRecorder struct {
	mu    sync.Mutex
	fail  bool
	count int
}

func (r *failingRecorder) Record(Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count++
	if r.fail {
		return errors.New("disk full")
	}
	return nil
}

// pipeline runs a session between in-memory pipes; the test plays the
// client (client, fromCell) and the server (serverIn, serverOut).
type pipeline struct {
	client    io.WriteCloser
	fromCell  *bufio.Reader
	serverIn  *bufio.Reader
	serverOut io.WriteCloser
	done      chan error
	s         *Session
}

// newPipeline runs a new session of ip (see runPipeline).
func newPipeline(t *testing.T, ip *Interposer) *pipeline { return runPipeline(t, ip.NewSession()) }

// runPipeline runs s between in-memory pipes.
func runPipeline(t *testing.T, s *Session) *pipeline {
	cr, cw := io.Pipe()   // client -> cell
	or, ow := io.Pipe()   // cell -> client
	sir, siw := io.Pipe() // cell -> server
	sor, sow := io.Pipe() // server -> cell
	p := &pipeline{client: cw, fromCell: bufio.NewReader(or), serverIn: bufio.NewReader(sir), serverOut: sow, done: make(chan error, 1), s: s}
	go func() { p.done <- s.Run(cr, ow, siw, sor) }()
	t.Cleanup(func() { cw.Close(); sow.Close() })
	return p
}

func (p *pipeline) line(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() { l, _ := r.ReadString('\n'); ch <- strings.TrimSuffix(l, "\n") }()
	select {
	case l := <-ch:
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no frame in 5s")
	}
	return ""
}

// A failed record refuses the calls after it. (The calls are tools/call:
// pings are counted, see TestRepeats.)
func TestAuditFailureRefusesNewCalls(t *testing.T) {
	rec := &failingRecorder{}
	ip := &Interposer{Policy: allowAll{}, Recorder: rec}
	p := newPipeline(t, ip)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`+"\n")
	if got := p.line(t, p.serverIn); !strings.Contains(got, `"id":1`) {
		t.Fatalf("server got %q", got)
	}
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":1,"result":{}}`+"\n")
	p.line(t, p.fromCell)

	rec.mu.Lock()
	rec.fail = true
	rec.mu.Unlock()
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":2,"method":"tools/call"}`+"\n")
	got := p.line(t, p.fromCell)
	if !strings.Contains(got, `"id":2`) || !strings.Contains(got, "audit log cannot be written") || !strings.Contains(got, "disk full") {
		t.Fatalf("after an audit failure the client got %q", got)
	}
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":3,"method":"tools/call"}`+"\n")
	if got := p.line(t, p.fromCell); !strings.Contains(got, `"id":3`) || !strings.Contains(got, "audit") {
		t.Fatalf("a later call got %q", got)
	}
}

// syncFailer keeps records and fails to write them once fail is set, as
// the audit log does when its disk fills during a session.
type syncFailer struct {
	mu    sync.Mutex
	fail  bool
	syncs int
}

func (r *syncFailer) Record(Event) error { return nil }

func (r *syncFailer) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncs++
	if r.fail {
		return errors.New("no space left on device")
	}
	return nil
}

// A syncer is synced once frames have gone out, and a failed write of
// the records refuses the calls after it.
func TestSyncFailureRefusesNewCalls(t *testing.T) {
	rec := &syncFailer{}
	ip := &Interposer{Policy: allowAll{}, Recorder: rec}
	p := newPipeline(t, ip)
	call := func(id string) {
		io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id+`,"method":"ping"}`+"\n")
		if got := p.line(t, p.serverIn); !strings.Contains(got, `"id":`+id) {
			t.Fatalf("server got %q", got)
		}
		io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":`+id+`,"result":{}}`+"\n")
		if got := p.line(t, p.fromCell); !strings.Contains(got, `"result"`) {
			t.Fatalf("client got %q", got)
		}
	}
	// until waits for cond, which the pumps make true after a frame has
	// gone (the records are written after their frames).
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	call("1")
	// Each pump syncs once its frame has gone: the request's, the response's.
	until("the recorder was not synced after each frame", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.syncs >= 2
	})
	rec.mu.Lock()
	rec.fail = true
	rec.mu.Unlock()
	call("2") // its records are written after it went: that write fails
	until("a failed Sync was not noticed", func() bool {
		p.s.mu.Lock()
		defer p.s.mu.Unlock()
		return p.s.auditErr != nil
	})
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":3,"method":"ping"}`+"\n")
	if got := p.line(t, p.fromCell); !strings.Contains(got, `"id":3`) || !strings.Contains(got, "no space left") {
		t.Fatalf("a call after the failed write got %q", got)
	}
}

// Every request in flight when the server's output ends gets one answer.
func TestServerExitAnswersPending(t *testing.T) {
	ip := &Interposer{Policy: allowAll{}}
	p := newPipeline(t, ip)
	for _, id := range []string{"1", `"two"`, "3"} {
		io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id+`,"method":"ping"}`+"\n")
		p.line(t, p.serverIn)
	}
	// The client cancels request 3: no answer is owed for it.
	io.WriteString(p.client, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}`+"\n")
	p.line(t, p.serverIn)
	p.serverOut.Close()
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		l := p.line(t, p.fromCell)
		if !strings.Contains(l, "exited before answering") {
			t.Errorf("got %q", l)
		}
		got[l[strings.Index(l, `"id":`)+5:strings.Index(l, `,"error"`)]] = true
	}
	if !got["1"] || !got[`"two"`] {
		t.Errorf("answered ids %v, want 1 and \"two\"", got)
	}
	if err := <-p.done; err != nil {
		t.Errorf("Run = %v", err)
	}
	// After the server is gone, new requests are answered by mcpcell.
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":9,"method":"ping"}`+"\n")
	if l := p.line(t, p.fromCell); !strings.Contains(l, `"id":9`) || !strings.Contains(l, "has exited") {
		t.Errorf("after exit: %q", l)
	}
}

// notingPolicy answers every reply with a note.
type notingPolicy struct{ allowAll }

func (notingPolicy) Reply(Direction, *Call, *Message) Verdict { return Verdict{Note: "note: a word"} }

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) Record(e Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return nil
}

// A policy's note on a reply goes to stderr and into the reply's record;
// the reply itself goes on.
func TestReplyNote(t *testing.T) {
	var notes strings.Builder
	var mu sync.Mutex
	log := &eventLog{}
	ip := &Interposer{Policy: notingPolicy{}, Recorder: log, Notes: writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return notes.Write(b)
	})}
	p := newPipeline(t, ip)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`+"\n")
	p.line(t, p.serverIn)
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`+"\n")
	if got := p.line(t, p.fromCell); !strings.Contains(got, `"tools":[]`) {
		t.Fatalf("client got %q", got)
	}
	mu.Lock()
	got := notes.String()
	mu.Unlock()
	if got != "mcpcell: note: a word\n" {
		t.Errorf("notes: %q", got)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if n := len(log.events); n != 2 || log.events[1].Note != "note: a word" {
		t.Errorf("records: %+v; want the reply's to carry the note", log.events)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// A note quoting the server's output (a non-JSON line, an unknown id) is
// redacted before it is shortened: a value that straddles the cut would
// otherwise lose its tail, and with it its match, and show its start.
// The control: without RedactText the start of the value is in the note.
func TestNoteRedactedBeforeClip(t *testing.T) {
	const value = "SECRETVALUE0123456789"
	pad := strings.Repeat("x", 180) // the value straddles the 200-byte cut
	for _, redact := range []bool{true, false} {
		var notes strings.Builder
		var mu sync.Mutex
		ip := &Interposer{Policy: allowAll{}, Notes: writerFunc(func(b []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return notes.Write(b)
		})}
		if redact {
			ip.RedactText = func(b []byte) []byte { return []byte(strings.ReplaceAll(string(b), value, "[redacted:S]")) }
		}
		p := newPipeline(t, ip)
		io.WriteString(p.serverOut, pad+value+" a log line\n")
		io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":"`+pad+value+`","result":{}}`+"\n")
		io.WriteString(p.client, `{"jsonrpc":"2.0","id":1,"method":"ping"}`+"\n")
		p.line(t, p.serverIn)
		io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":1,"result":{}}`+"\n")
		p.line(t, p.fromCell)
		mu.Lock()
		got := notes.String()
		mu.Unlock()
		if leaked := strings.Contains(got, value[:8]); leaked == redact || redact && strings.Count(got, "[redacted:S]") != 2 {
			t.Errorf("RedactText set %v: notes %q", redact, got)
		}
	}
}

// A client's request whose id a JavaScript server would read as another
// id (-0 as 0, 29.0 as 29, 2^53+1 as 2^53) is refused without reaching
// the server, with its id echoed as sent: the client waits for that id.
// The control: the ids next to them go to the server.
func TestIDsNotCanonical(t *testing.T) {
	ip := &Interposer{Policy: allowAll{}}
	p := newPipeline(t, ip)
	for _, id := range []string{`-0`, `29.0`, `2.9e1`, `1E3`, `9007199254740993`, `-9007199254740992`} {
		io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call"}`+"\n")
		got := p.line(t, p.fromCell)
		if !strings.HasPrefix(got, `{"jsonrpc":"2.0","id":`+id+`,"error":{"code":-32600,`) {
			t.Errorf("id %s: the client got %s", id, got)
		}
	}
	for _, id := range []string{`0`, `29`, `9007199254740991`, `"-0"`} {
		io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call"}`+"\n")
		if got := p.line(t, p.serverIn); !strings.Contains(got, `"id":`+id+`,`) {
			t.Errorf("id %s: the server got %s first", id, got)
		}
	}
}

// A server that answers the client's 29 with 29.0 (or -0 for 0) has sent
// something unusable for it: the client gets an error with its own id,
// not silence. A server's unreadable request is answered to the server
// with its id as sent, and its id, of the server's own id space, leaves
// the client's call of the same id alone.
func TestServerIDsNotCanonical(t *testing.T) {
	ip := &Interposer{Policy: allowAll{}}
	p := newPipeline(t, ip)
	for _, c := range []struct{ id, answer string }{{`29`, `29.0`}, {`0`, `-0`}, {`7`, `7e0`}} {
		io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+c.id+`,"method":"ping"}`+"\n")
		p.line(t, p.serverIn)
		io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":`+c.answer+`,"result":{}}`+"\n")
		if got := p.line(t, p.fromCell); !strings.HasPrefix(got, `{"jsonrpc":"2.0","id":`+c.id+`,"error":{"code":-32603,`) {
			t.Errorf("answer %s to %s: the client got %s", c.answer, c.id, got)
		}
	}
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":5,"method":"ping"}`+"\n")
	p.line(t, p.serverIn)
	for _, bad := range []string{`{"jsonrpc":"2.0","id":5,"method":"roots/list","extra":1}`, `{"jsonrpc":"2.0","id":-0,"method":"roots/list"}`, `{"jsonrpc":"2.0","id":5.0,"method":"roots/list"}`} {
		io.WriteString(p.serverOut, bad+"\n")
		id := bad[strings.Index(bad, `"id":`)+5 : strings.Index(bad, `,"method"`)]
		if got := p.line(t, p.serverIn); !strings.HasPrefix(got, `{"jsonrpc":"2.0","id":`+id+`,"error":{"code":-32600,`) {
			t.Errorf("the server's %s: the server got %s", bad, got)
		}
	}
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":5,"result":{"ok":true}}`+"\n")
	if got := p.line(t, p.fromCell); got != `{"jsonrpc":"2.0","id":5,"result":{"ok":true}}` {
		t.Errorf("the client's call 5 after the server's bad requests: %s", got)
	}
	// The same the other way: the client answers the server's 12 with 12.0.
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":12,"method":"roots/list"}`+"\n")
	p.line(t, p.fromCell)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":12.0,"result":{"roots":[]}}`+"\n")
	if got := p.line(t, p.serverIn); !strings.HasPrefix(got, `{"jsonrpc":"2.0","id":12,"error":{"code":-32603,`) {
		t.Errorf("the client's answer 12.0 to the server's 12: the server got %s", got)
	}
}

// batchPolicy allows everything, batches too (2025-03-26).
type batchPolicy struct{ allowAll }

func (batchPolicy) Batches() bool { return true }

// expect reads the next line from r and checks that it starts with
// want.
func (p *pipeline) expect(t *testing.T, r *bufio.Reader, what, want string) {
	t.Helper()
	if got := p.line(t, r); !strings.HasPrefix(got, want) {
		t.Errorf("%s: got %s, want %s…", what, got, want)
	}
}

// Every refused frame is answered in its own id space, wherever its id
// is written and whatever made it refused. The server asks the client
// under 7, the id of the client's own call in flight: the client's
// unreadable answer fails the server's request 7, and the client gets
// only its call's result. The server's unreadable request under 7 is
// answered to the server, and the client's call 7 is untouched.
// Before, both landed on the client's call 7 (which then got two
// answers, or the server's refusal for its result).
func TestRefusedAnsweredInOwnIDSpace(t *testing.T) {
	const max = 4096
	big := strings.Repeat("x", max)
	ip := &Interposer{Policy: allowAll{}, MaxFrame: max}
	p := newPipeline(t, ip)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":7,"method":"tools/call"}`+"\n")
	p.expect(t, p.serverIn, "the client's call", `{"jsonrpc":"2.0","id":7,"method":"tools/call"}`)
	for _, answer := range []string{
		`{"jsonrpc":"2.0","id":7,"result":{"roots":[{"uri":"file:///x","name":"a","Name":"b"}]}}`,
		`{"result":{"roots":[{"uri":"file:///x","name":"a","Name":"b"}]},"jsonrpc":"2.0","id":7}`,
		`{"jsonrpc":"2.0","id":7,"result":{"roots":[]},"x":1}`,
		`{"jsonrpc":"2.0","result":{"roots":[]},"id":7.0,"x":1}`,
		`{"jsonrpc":"2.0","error":{"code":1,"message":"` + big + `"},"id":7}`,
		"{\"jsonrpc\":\"2.0\",\r\"result\":{\"roots\":[]},\"id\":7}",
		`{"jsonrpc":"2.0","id":7,"reslt":{}}`, // neither: answers what waits for its id
	} {
		io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":7,"method":"roots/list"}`+"\n")
		p.expect(t, p.fromCell, "the server's request", `{"jsonrpc":"2.0","id":7,"method":"roots/list"}`)
		io.WriteString(p.client, answer+"\n")
		p.expect(t, p.serverIn, "the server, for "+answer[:min(len(answer), 60)], `{"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"mcpcell: the client sent an invalid response: `)
	}
	for _, request := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"roots/list","params":{"a":1,"a":2}}`,
		`{"method":"roots/list","params":{"a":1,"a":2},"jsonrpc":"2.0","id":7}`,
		`{"method":"roots/list","params":{},"jsonrpc":"2.0","id":7,"x":1}`,
		`{"method":"roots/list","params":{"a":"` + big + `"},"jsonrpc":"2.0","id":7}`,
		"{\"method\":\"roots/list\",\r\"jsonrpc\":\"2.0\",\"id\":7}",
	} {
		io.WriteString(p.serverOut, request+"\n")
		p.expect(t, p.serverIn, "the server, for "+request[:min(len(request), 60)], `{"jsonrpc":"2.0","id":7,"error":{"code":-32`)
	}
	// The client's call gets its one answer: the server's.
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":7,"result":{"content":[]}}`+"\n")
	p.expect(t, p.fromCell, "the client's call 7", `{"jsonrpc":"2.0","id":7,"result":{"content":[]}}`)

	// A frame that is neither, with nothing waiting for its id, is
	// answered as a request; the server's such frame goes back to it.
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":8,"reslt":{}}`+"\n")
	p.expect(t, p.fromCell, "the client's neither", `{"jsonrpc":"2.0","id":8,"error":{"code":-32600,`)
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":8,"reslt":{}}`+"\n")
	p.expect(t, p.serverIn, "the server's neither", `{"jsonrpc":"2.0","id":8,"error":{"code":-32600,`)
}

// A refused request is answered under its id wherever the id is
// written: the TypeScript SDK writes it last ({method, params, jsonrpc,
// id}, {result, jsonrpc, id}), after the part strict decoding refuses.
// A refused response fails the call it answers. The control: a frame
// whose id comes first was answered before too.
func TestRefusedIDLast(t *testing.T) {
	const max = 4096
	big := strings.Repeat("y", 2*max)
	ip := &Interposer{Policy: allowAll{}, MaxFrame: max}
	p := newPipeline(t, ip)
	for i, bad := range []string{
		`"params":{"name":"echo","arguments":{"Lang":"en","lang":"de"}}`,
		`"params":{"name":"echo","arguments":{"a":1,"a":2}}`,
		"\"params\":{\"name\":\"ech\xffo\"}",
		`"params":{"name":"secret_\ud800admin"}`,
		`"params":` + strings.Repeat(`[`, 600) + strings.Repeat(`]`, 600),
		`"params":{"text":"` + big + `"}`,
		"\"params\":{\"_x\":\r{}}",
		`"params":{},"extra":1`,
	} {
		for _, order := range []string{`{"method":"tools/call",%s,"jsonrpc":"2.0","id":%d}`, `{"jsonrpc":"2.0","id":%d,"method":"tools/call",%s}`} {
			id := 100 + i
			var frame string
			if strings.HasPrefix(order, `{"method"`) {
				frame = fmt.Sprintf(order, bad, id)
			} else {
				frame = fmt.Sprintf(order, id, bad)
			}
			io.WriteString(p.client, frame+"\n")
			p.expect(t, p.fromCell, frame[:min(len(frame), 40)], fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"error":{"code":-32`, id))
		}
	}
	for i, bad := range []string{
		`"result":{"structuredContent":{"Set-Cookie":"a=1","set-cookie":"b=2"}}`,
		`"result":{"content":[{"type":"text","text":"` + big + `"}]}`,
		"\"result\":{\"content\":[]},\r\"x\":1",
	} {
		id := 200 + i
		io.WriteString(p.client, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call"}`, id)+"\n")
		p.line(t, p.serverIn)
		io.WriteString(p.serverOut, fmt.Sprintf(`{%s,"jsonrpc":"2.0","id":%d}`, bad, id)+"\n")
		p.expect(t, p.fromCell, bad[:min(len(bad), 30)], fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"error":{"code":-32603,"message":"mcpcell: the server sent an invalid response: `, id))
	}
}

// A batch with an element strict decoding refuses: the others go on as
// a batch, the refused one is answered under its id. A batch whose
// elements cannot be told apart as any parser tells them apart, or one
// in a session without batches, has each request answered.
func TestBatchRefusedElements(t *testing.T) {
	call := func(id int, args string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"x","arguments":{%s}}}`, id, args)
	}
	ip := &Interposer{Policy: batchPolicy{}}
	p := newPipeline(t, ip)
	io.WriteString(p.client, "["+call(30, "")+","+call(31, "")+","+call(32, `"X":1,"x":2`)+"]\n")
	if got, want := p.line(t, p.serverIn), "["+call(30, "")+","+call(31, "")+"]"; got != want {
		t.Errorf("the server got %s, want %s", got, want)
	}
	p.expect(t, p.fromCell, "the refused element", `{"jsonrpc":"2.0","id":32,"error":{"code":-32700,`)
	for _, frame := range []string{
		"[" + call(40, "") + "," + call(41, `"X":1,"x":2`) + "] x",
		"[" + call(40, "") + "," + call(41, "") + ",]",
		"[" + call(40, "") + ",\r" + call(41, "") + "]",
	} {
		io.WriteString(p.client, frame+"\n")
		p.expect(t, p.fromCell, frame, `{"jsonrpc":"2.0","id":40,"error":`)
		p.expect(t, p.fromCell, frame, `{"jsonrpc":"2.0","id":41,"error":`)
	}
	// The server's batch: a refused request goes back to it, a refused
	// response fails the client's call.
	io.WriteString(p.client, call(50, "")+"\n")
	p.line(t, p.serverIn)
	io.WriteString(p.serverOut, `[{"jsonrpc":"2.0","id":50,"result":{"a":1,"a":2}},{"jsonrpc":"2.0","id":"s1","method":"roots/list","params":{"b":1,"B":2}},{"jsonrpc":"2.0","id":"s2","method":"ping"}]`+"\n")
	// Both pumps flush both writers: read the two sides at once.
	toServer := make(chan string, 1)
	go func() { l, _ := p.serverIn.ReadString('\n'); toServer <- l }()
	p.expect(t, p.fromCell, "the client's call", `{"jsonrpc":"2.0","id":50,"error":{"code":-32603,`)
	p.expect(t, p.fromCell, "the server's valid request", `[{"jsonrpc":"2.0","id":"s2","method":"ping"}]`)
	select {
	case l := <-toServer:
		if !strings.HasPrefix(l, `{"jsonrpc":"2.0","id":"s1","error":{"code":-32700,`) {
			t.Errorf("the server's refused request: the server got %s", l)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the server's refused request: no answer to the server")
	}

	// Without batches, each request of one is answered.
	q := newPipeline(t, &Interposer{Policy: allowAll{}})
	io.WriteString(q.client, "["+call(60, "")+","+call(61, "")+`,{"jsonrpc":"2.0","method":"notifications/progress"}]`+"\n")
	q.expect(t, q.fromCell, "batch 60", `{"jsonrpc":"2.0","id":60,"error":{"code":-32600,"message":"mcpcell: batches are allowed only`)
	q.expect(t, q.fromCell, "batch 61", `{"jsonrpc":"2.0","id":61,"error":{"code":-32600,`)
	io.WriteString(q.client, `{"jsonrpc":"2.0","id":62,"method":"ping"}`+"\n")
	q.expect(t, q.serverIn, "after the batch", `{"jsonrpc":"2.0","id":62,"method":"ping"}`)
}

// gatePolicy holds its decision on "slow" until release is closed, after
// telling entered.
type gatePolicy struct {
	allowAll
	entered, release chan struct{}
}

func (g gatePolicy) Message(dir Direction, m *Message) Verdict {
	if m.Method == "slow" {
		close(g.entered)
		<-g.release
	}
	return Verdict{}
}

// Review 6: a request the policy was deciding on when the server exited
// was added to the calls in flight after Run had answered them all, went
// to the dead server, and was never answered. Now it gets "the server has
// exited", once.
func TestServerExitWhileDeciding(t *testing.T) {
	g := gatePolicy{entered: make(chan struct{}), release: make(chan struct{})}
	ip := &Interposer{Policy: g}
	p := newPipeline(t, ip)
	go io.Copy(io.Discard, p.serverIn) // what reaches the dead server
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":5,"method":"slow"}`+"\n")
	<-g.entered
	p.serverOut.Close()
	if err := <-p.done; err != nil {
		t.Errorf("Run = %v", err)
	}
	close(g.release)
	if l := p.line(t, p.fromCell); !strings.Contains(l, `"id":5`) || !strings.Contains(l, "has exited") {
		t.Errorf("the request decided on while the server exited: %q", l)
	}
	// One answer: the next frame is the answer to the next request.
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":6,"method":"ping"}`+"\n")
	if l := p.line(t, p.fromCell); !strings.Contains(l, `"id":6`) {
		t.Errorf("after it: %q", l)
	}
}

// The final review: after the server exited, a request the client's pump
// was handling had its refusal recorded after the session's end record,
// and its answer was not written before mcpcell exited. Finish waits for
// the frame in hand, writes its answer, and takes no frame after it.
func TestFinishEndsClientTraffic(t *testing.T) {
	g := gatePolicy{entered: make(chan struct{}), release: make(chan struct{})}
	log := &eventLog{}
	ip := &Interposer{Policy: g, Recorder: log}
	p := newPipeline(t, ip)
	go io.Copy(io.Discard, p.serverIn)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":5,"method":"slow"}`+"\n")
	<-g.entered
	p.serverOut.Close()
	if err := <-p.done; err != nil {
		t.Errorf("Run = %v", err)
	}
	finished := make(chan bool, 1)
	go func() { finished <- p.s.Finish(5 * time.Second) }()
	select {
	case <-finished:
		t.Fatal("Finish returned while the client's frame was in hand")
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	if l := p.line(t, p.fromCell); !strings.Contains(l, `"id":5`) || !strings.Contains(l, "has exited") {
		t.Errorf("the frame in hand: %q", l)
	}
	if !<-finished {
		t.Fatal("Finish did not finish")
	}
	log.mu.Lock()
	n := len(log.events)
	log.mu.Unlock()
	// After Finish, a request is neither handled nor recorded.
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":6,"method":"ping"}`+"\n")
	got := make(chan string, 1)
	go func() { l, _ := p.fromCell.ReadString('\n'); got <- l }()
	select {
	case l := <-got:
		t.Errorf("after Finish the client got %q", l)
	case <-time.After(300 * time.Millisecond):
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.events) != n {
		t.Errorf("after Finish: %+v recorded", log.events[n:])
	}
}

// hideAll answers every server reply with an empty result in place of
// the server's, as a policy that filters a listing does.
type hideAll struct{ allowAll }

func (hideAll) Reply(dir Direction, c *Call, m *Message) Verdict {
	if dir == Down {
		return Verdict{Frame: m.WithResult([]byte(`{}`))}
	}
	return Verdict{}
}

// Observe sees the server's messages as the server sent them, before the
// policy replaces them, each response with the request it answers; it
// sees no client message, and no response that no request waits for.
func TestObserveSeesServerMessagesBeforePolicy(t *testing.T) {
	type seen struct{ call, method, raw string }
	var mu sync.Mutex
	var got []seen
	ip := &Interposer{Policy: hideAll{}, Observe: func(c *Call, m *Message) {
		s := seen{method: m.Method, raw: string(m.Raw)}
		if c != nil {
			s.call = c.Method + " " + string(c.ID.Raw())
		}
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}}
	p := newPipeline(t, ip)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`+"\n")
	p.line(t, p.serverIn)
	go io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":"stray","result":{"tools":[{"name":"x"}]}}`+"\n"+
		`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"hi"}}`+"\n"+
		`{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"hidden"}]}}`+"\n")
	if l := p.line(t, p.fromCell); !strings.Contains(l, "notifications/message") {
		t.Fatalf("the client got %q first, want the notification", l)
	}
	if l := p.line(t, p.fromCell); l != `{"jsonrpc":"2.0","id":7,"result":{}}` {
		t.Fatalf("the client got %q, want the policy's empty result", l)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []seen{
		{"", "notifications/message", `{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"hi"}}`},
		{"tools/list 7", "", `{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"hidden"}]}}`},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Observe saw %q, want %q", got, want)
	}
}
