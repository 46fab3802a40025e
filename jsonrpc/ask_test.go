package jsonrpc

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// askPolicy asks the client a question of mcpcell's own whenever the
// server answers a tools/list: from the server pump's goroutine, inside
// Policy.Reply, as the pinned tool surface does.
type askPolicy struct {
	allowAll
	s       *Session
	mu      sync.Mutex
	replies []string // what each reply got: the result, or "error CODE MESSAGE"
	errs    []error  // what Ask returned
}

func (p *askPolicy) Reply(dir Direction, c *Call, m *Message) Verdict {
	if dir == Down && c.Method == "tools/list" {
		_, err := p.s.Ask("elicitation/create", []byte(`{"message":"approve?","requestedSchema":{"type":"object","properties":{}}}`),
			Event{Subject: "tool x", Rule: "consent"}, p.reply)
		p.mu.Lock()
		p.errs = append(p.errs, err)
		p.mu.Unlock()
	}
	return Verdict{}
}

func (p *askPolicy) reply(result []byte, e *Error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e != nil {
		p.replies = append(p.replies, fmt.Sprintf("error %d %s", e.Code, e.Message))
		return
	}
	p.replies = append(p.replies, string(result))
}

func (p *askPolicy) got() ([]string, []error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.replies...), append([]error(nil), p.errs...)
}

// waitReplies waits until the policy's reply has been called n times.
func (p *askPolicy) waitReplies(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, _ := p.got()
		if len(r) >= n || time.Now().After(deadline) {
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var askIDRe = regexp.MustCompile(`"id":("mcpcell-[0-9a-f]{32}")`)

// listAndAsk makes the server answer a tools/list, which makes the
// policy ask; it returns the ask's id as JSON, after checking that the
// list reply reached the client first, unchanged.
func listAndAsk(t *testing.T, p *askPipe, n int) string {
	t.Helper()
	io.WriteString(p.client, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`+"\n", n))
	want(t, p.sv, "the list request", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, n))
	io.WriteString(p.serverOut, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":{"tools":[]}}`+"\n", n))
	want(t, p.cl, "the list reply", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":{"tools":[]}}`, n))
	ask := want(t, p.cl, "the ask", `{"jsonrpc":"2.0","id":"mcpcell-`)
	m := askIDRe.FindStringSubmatch(ask)
	if m == nil || !strings.Contains(ask, `"method":"elicitation/create"`) {
		t.Fatalf("the client got %s, want mcpcell's elicitation/create with an id of 128 random bits", ask)
	}
	return m[1]
}

// askPipe is a pipeline whose outputs are read as they come: io.Pipe
// holds a writer until its frame is read.
type askPipe struct {
	*pipeline
	cl, sv chan string // what the client and the server read
}

func newAskPipeline(t *testing.T) (*askPolicy, *Session, *askPipe, *eventLog) {
	log := &eventLog{}
	pol := &askPolicy{}
	pol.s = (&Interposer{Policy: pol, Recorder: log}).NewSession()
	return pol, pol.s, pipeOf(runPipeline(t, pol.s)), log
}

func pipeOf(p *pipeline) *askPipe {
	return &askPipe{pipeline: p, cl: collect(p.fromCell), sv: collect(p.serverIn)}
}

// The client's answer to mcpcell's request goes to its reply, never to
// the server; the server's own request is answered through to the server
// as before (the control).
func TestAskAnswerNotToServer(t *testing.T) {
	pol, _, p, log := newAskPipeline(t)
	id := listAndAsk(t, p, 1)
	if id2 := listAndAsk(t, p, 2); id2 == id {
		t.Fatalf("two asks had the same id %s", id)
	}
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id+`,"result":{"action":"accept"}}`+"\n")
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id+`,"result":{"action":"decline"}}`+"\n") // a second answer: dropped
	// The control: the server's own request and its answer pass.
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":7,"method":"ping"}`+"\n")
	want(t, p.cl, "the server's ping", `{"jsonrpc":"2.0","id":7,"method":"ping"}`)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":7,"result":{}}`+"\n")
	// The first frame the server reads is the answer to its ping: the
	// answer to mcpcell's request, sent before it, never came.
	want(t, p.sv, "the server's next frame", `{"jsonrpc":"2.0","id":7,"result":{}}`)
	if r := pol.waitReplies(t, 1); len(r) != 1 || r[0] != `{"action":"accept"}` {
		t.Errorf("replies = %q, want the client's result", r)
	}
	log.mu.Lock()
	var asks int
	for _, e := range log.events {
		if e.Decision == "ask" && e.Method == "elicitation/create" && e.Dir == Down && e.Subject == "tool x" {
			asks++
		}
	}
	log.mu.Unlock()
	if asks != 2 {
		t.Errorf("%d ask records, want 2 (one per ask, in full)", asks)
	}
}

// A client's error answer, and an invalid answer, reach the reply as
// errors, and nothing reaches the server.
func TestAskErrorAnswers(t *testing.T) {
	pol, _, p, _ := newAskPipeline(t)
	id1 := listAndAsk(t, p, 1)
	id2 := listAndAsk(t, p, 2)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id1+`,"error":{"code":-32602,"message":"no"}}`+"\n")
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id2+`,"result":{},"error":{"code":1,"message":"both"}}`+"\n")
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":3,"method":"ping"}`+"\n")
	want(t, p.sv, "the server's next frame", `{"jsonrpc":"2.0","id":3,"method":"ping"}`)
	r := pol.waitReplies(t, 2)
	if len(r) != 2 || r[0] != "error -32602 no" || !strings.HasPrefix(r[1], "error -32603 the client sent an invalid response") {
		t.Errorf("replies = %q", r)
	}
}

// A server request that reuses the id of mcpcell's request in flight is
// refused like any duplicate id and never reaches the client; the same
// request under another id passes (the control).
func TestAskIDCollision(t *testing.T) {
	pol, _, p, _ := newAskPipeline(t)
	id := listAndAsk(t, p, 1)
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":`+id+`,"method":"elicitation/create","params":{"message":"mine now"}}`+"\n")
	if l := want(t, p.sv, "the refusal", `{"jsonrpc":"2.0","id":`); !strings.Contains(l, `"id":`+id) || !strings.Contains(l, "already in use") {
		t.Fatalf("the server's request under mcpcell's id got %s, want a duplicate-id refusal", l)
	}
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":"other","method":"elicitation/create","params":{"message":"mine now"}}`+"\n")
	want(t, p.cl, "the control, under another id", `{"jsonrpc":"2.0","id":"other","method":"elicitation/create"`)
	// mcpcell's request is still the one the client's answer goes to.
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id+`,"result":{"action":"decline"}}`+"\n")
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":"other","result":{"action":"accept"}}`+"\n")
	want(t, p.sv, "the answer to the server's own request", `{"jsonrpc":"2.0","id":"other","result":{"action":"accept"}}`)
	if r := pol.waitReplies(t, 1); len(r) != 1 || r[0] != `{"action":"decline"}` {
		t.Errorf("replies = %q", r)
	}
}

// A server that answers mcpcell's request (it would have to know the id)
// answers nothing: its response is dropped, and the client's answer still
// goes to the reply. A server that cancels it cancels nothing, and the
// client never sees that cancel; the server's cancel of its own request
// goes through (the control).
func TestAskServerCannotAnswerOrCancel(t *testing.T) {
	pol, s, p, _ := newAskPipeline(t)
	id := listAndAsk(t, p, 1)
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":`+id+`,"result":{"action":"accept"}}`+"\n")
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":`+id+`}}`+"\n")
	// The control: the server's own request, then its cancel, reach the client.
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":5,"method":"ping"}`+"\n")
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}`+"\n")
	want(t, p.cl, "the server's ping", `{"jsonrpc":"2.0","id":5,"method":"ping"}`)
	want(t, p.cl, "the server's cancel of its own ping", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}`)
	if r, _ := pol.got(); len(r) != 0 {
		t.Fatalf("the server's answer reached the reply: %q", r)
	}
	s.mu.Lock()
	own := s.ownCall(mustID(t, id))
	s.mu.Unlock()
	if !own {
		t.Fatal("the server's cancel cancelled mcpcell's request")
	}
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id+`,"result":{"action":"decline"}}`+"\n")
	if r := pol.waitReplies(t, 1); len(r) != 1 || r[0] != `{"action":"decline"}` {
		t.Errorf("replies = %q, want the client's answer", r)
	}
}

func mustID(t *testing.T, raw string) ID {
	t.Helper()
	id, err := ParseID([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A client that never answers holds nothing: traffic flows, Run returns
// when the server's output ends, the reply gets an error, the client is
// told the request is cancelled, and a late answer is dropped.
func TestAskUnansweredAtSessionEnd(t *testing.T) {
	pol, s, p, _ := newAskPipeline(t)
	id := listAndAsk(t, p, 1)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":2,"method":"ping"}`+"\n")
	want(t, p.sv, "traffic after the ask", `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":2,"result":{}}`+"\n")
	want(t, p.cl, "the ping's answer", `{"jsonrpc":"2.0","id":2,"result":{}}`)
	p.serverOut.Close()
	want(t, p.cl, "the cancel of mcpcell's request", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":`+id+`,"reason":"mcpcell: the session ended"}}`)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run waits on mcpcell's unanswered request")
	}
	r := pol.waitReplies(t, 1)
	if len(r) != 1 || r[0] != "error -32603 the session ended before the client answered" {
		t.Fatalf("replies = %q", r)
	}
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id+`,"result":{"action":"accept"}}`+"\n")
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":3,"method":"ping"}`+"\n")
	want(t, p.cl, "after the end", `{"jsonrpc":"2.0","id":3,"error"`)
	if r, _ := pol.got(); len(r) != 1 {
		t.Errorf("the late answer reached the reply: %q", r)
	}
	if !s.Finish(time.Second) {
		t.Error("Finish waits")
	}
	if _, err := s.Ask("elicitation/create", []byte(`{}`), Event{}, pol.reply); !errors.Is(err, errSessionOver) {
		t.Errorf("Ask after the end = %v, want errSessionOver", err)
	}
	if err := s.Notify("notifications/tools/list_changed", nil, "consent"); !errors.Is(err, errSessionOver) {
		t.Errorf("Notify after the end = %v, want errSessionOver", err)
	}
}

// At most maxAsks of mcpcell's requests await the client; an answer
// frees a place.
func TestAskBound(t *testing.T) {
	pol, _, p, _ := newAskPipeline(t)
	var ids []string
	for i := range maxAsks {
		ids = append(ids, listAndAsk(t, p, i+1))
	}
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":100,"method":"tools/list"}`+"\n")
	want(t, p.sv, "the list request", `{"jsonrpc":"2.0","id":100`)
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":100,"result":{"tools":[]}}`+"\n")
	want(t, p.cl, "the list reply past the bound", `{"jsonrpc":"2.0","id":100,"result":{"tools":[]}}`)
	// The client answers one, which frees a place.
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+ids[0]+`,"result":{"action":"cancel"}}`+"\n")
	pol.waitReplies(t, 1)
	if _, errs := pol.got(); !errors.Is(errs[maxAsks], errTooManyAsks) {
		t.Fatalf("Ask past the bound = %v, want errTooManyAsks", errs[maxAsks])
	}
	listAndAsk(t, p, 101) // a place is free again
}

// Mcpcell's frames go through the same redaction as the server's, after
// the frame being handled.
func TestAskRedacted(t *testing.T) {
	log := &eventLog{}
	pol := &askPolicy{}
	ip := &Interposer{Policy: pol, Recorder: log, Redact: func(b []byte) []byte { return []byte(strings.ReplaceAll(string(b), "approve?", "[redacted]")) }}
	pol.s = ip.NewSession()
	p := pipeOf(runPipeline(t, pol.s))
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`+"\n")
	want(t, p.sv, "the list request", `{"jsonrpc":"2.0","id":1`)
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`+"\n")
	want(t, p.cl, "the list reply", `{"jsonrpc":"2.0","id":1`)
	if l := want(t, p.cl, "the ask", `{"jsonrpc":"2.0","id":"mcpcell-`); !strings.Contains(l, "[redacted]") || strings.Contains(l, "approve?") {
		t.Errorf("mcpcell's request went out unredacted: %s", l)
	}
}
