package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// elicits is an elicitor with a fixed answer.
type elicits bool

func (e elicits) ClientElicits() bool { return bool(e) }

// consentPipe runs an interposer with a consent over in-memory pipes.
// The server side is the test's; Changed is called from the policy's
// Reply to a tools/list, as the pinned surface does.
type consentPipe struct {
	ip       *jsonrpc.Interposer
	cons     *consent
	log      *recordLog
	client   io.WriteCloser
	cl, sv   chan string
	srvOut   io.WriteCloser
	onList   func(*consent)
	notes    *strings.Builder
	notesMu  sync.Mutex
	listings int
}

type recordLog struct {
	mu  sync.Mutex
	evs []jsonrpc.Event
}

func (l *recordLog) Record(e jsonrpc.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
	return nil
}

// decisions are the consent records' decisions, in order.
func (l *recordLog) decisions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		if e.Rule == consentRule && e.Kind != jsonrpc.Notification {
			out = append(out, e.Decision+" "+e.Subject)
		}
	}
	return out
}

type listPolicy struct {
	p *consentPipe
}

func (l listPolicy) Message(jsonrpc.Direction, *jsonrpc.Message) jsonrpc.Verdict {
	return jsonrpc.Verdict{}
}
func (l listPolicy) Batches() bool { return false }
func (l listPolicy) Reply(dir jsonrpc.Direction, c *jsonrpc.Call, m *jsonrpc.Message) jsonrpc.Verdict {
	if dir == jsonrpc.Down && c.Method == "tools/list" {
		l.p.onList(l.p.cons)
	}
	return jsonrpc.Verdict{}
}

func newConsentPipe(t *testing.T, can bool, onList func(*consent)) *consentPipe {
	p := &consentPipe{log: &recordLog{}, onList: onList, notes: &strings.Builder{}}
	p.ip = &jsonrpc.Interposer{Policy: listPolicy{p}, Recorder: p.log, Notes: writerFunc(func(b []byte) (int, error) {
		p.notesMu.Lock()
		defer p.notesMu.Unlock()
		return p.notes.Write(b)
	})}
	p.cons = &consent{ip: p.ip, pol: elicits(can), server: "fake"}
	cr, cw := io.Pipe()
	or, ow := io.Pipe()
	sir, siw := io.Pipe()
	sor, sow := io.Pipe()
	p.client, p.srvOut = cw, sow
	p.cl, p.sv = lines(or), lines(sir)
	done := make(chan struct{})
	go func() { p.ip.Run(cr, ow, siw, sor); close(done) }()
	t.Cleanup(func() {
		cw.Close()
		sow.Close()
		<-done
	})
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func lines(r io.Reader) chan string {
	ch := make(chan string, 1000)
	go func() {
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				close(ch)
				return
			}
			ch <- strings.TrimSuffix(l, "\n")
		}
	}()
	return ch
}

func nextLine(t *testing.T, ch chan string, what string) string {
	t.Helper()
	select {
	case l, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the stream ended", what)
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing in 10s", what)
	}
	return ""
}

// list runs one tools/list through, and returns the frames the client
// got up to the answer to a ping after it: the list reply, any
// questions, and the ping's answer.
func (p *consentPipe) list(t *testing.T) []string {
	t.Helper()
	p.listings++
	n := p.listings * 10
	fmt.Fprintf(p.client, `{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`+"\n", n)
	nextLine(t, p.sv, "the list request")
	fmt.Fprintf(p.srvOut, `{"jsonrpc":"2.0","id":%d,"result":{"tools":[]}}`+"\n", n)
	fmt.Fprintf(p.client, `{"jsonrpc":"2.0","id":%d,"method":"ping"}`+"\n", n+1)
	nextLine(t, p.sv, "the ping")
	fmt.Fprintf(p.srvOut, `{"jsonrpc":"2.0","id":%d,"result":{}}`+"\n", n+1)
	var got []string
	for {
		l := nextLine(t, p.cl, "the client's frames")
		got = append(got, l)
		if strings.HasPrefix(l, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,`, n+1)) {
			return got
		}
	}
}

// questions are mcpcell's elicitation/create requests among frames.
func questions(frames []string) []map[string]any {
	var out []map[string]any
	for _, f := range frames {
		var m map[string]any
		json.Unmarshal([]byte(f), &m)
		if m["method"] == "elicitation/create" {
			out = append(out, m)
		}
	}
	return out
}

func (p *consentPipe) answer(t *testing.T, q map[string]any, result string) {
	t.Helper()
	id, _ := json.Marshal(q["id"])
	fmt.Fprintf(p.client, `{"jsonrpc":"2.0","id":%s,"result":%s}`+"\n", id, result)
}

// A server that changes 10,000 tools gets at most maxConsentAsks
// questions a session, one note that the rest need mcpcell trust
// --tools, and a change is asked about once per definition: again only
// when its definition changes again.
func TestConsentBounded(t *testing.T) {
	p := newConsentPipe(t, true, func(c *consent) {
		for i := range 10000 {
			c.Changed("tool", fmt.Sprintf("t%d", i), "d1", "description", "x", func() error { return nil })
		}
	})
	qs := questions(p.list(t))
	if len(qs) != maxConsentAsks {
		t.Fatalf("%d questions, want %d", len(qs), maxConsentAsks)
	}
	if qs2 := questions(p.list(t)); len(qs2) != 0 {
		t.Errorf("the second listing asked %d more", len(qs2))
	}
	p.notesMu.Lock()
	notes := p.notes.String()
	p.notesMu.Unlock()
	if strings.Count(notes, "mcpcell trust --tools") != 1 {
		t.Errorf("stderr: %q; want one note naming mcpcell trust --tools", notes)
	}
	d := p.log.decisions()
	if len(d) != maxConsentAsks+1 || d[maxConsentAsks] != "unasked tool t3" {
		t.Errorf("records %q; want %d asks and one unasked", d, maxConsentAsks)
	}
}

// The same change is asked about once a session, whatever the answer; a
// new definition of the same tool is asked about again.
func TestConsentOncePerDefinition(t *testing.T) {
	var mu sync.Mutex
	digest := "d1"
	p := newConsentPipe(t, true, func(c *consent) {
		mu.Lock()
		d := digest
		mu.Unlock()
		c.Changed("tool", "search", d, "description", "x", func() error { return nil })
	})
	qs := questions(p.list(t))
	if len(qs) != 1 {
		t.Fatalf("%d questions, want 1", len(qs))
	}
	p.answer(t, qs[0], `{"action":"decline"}`)
	if qs := questions(p.list(t)); len(qs) != 0 {
		t.Errorf("asked again about the declined definition")
	}
	mu.Lock()
	digest = "d2"
	mu.Unlock()
	if qs := questions(p.list(t)); len(qs) != 1 {
		t.Errorf("%d questions about a new definition, want 1", len(qs))
	}
}

// Where the client cannot be asked, nothing is sent and nothing recorded
// of consent: the withholding stands as it is.
func TestConsentNotAsked(t *testing.T) {
	p := newConsentPipe(t, false, func(c *consent) {
		c.Changed("tool", "search", "d1", "description", "x", func() error { return nil })
	})
	if qs := questions(p.list(t)); len(qs) != 0 {
		t.Errorf("asked a client that cannot be asked: %v", qs)
	}
	if d := p.log.decisions(); len(d) != 0 {
		t.Errorf("consent records %q", d)
	}
}

// Each answer has its outcome: only accept approves and tells the client
// to list again; an approval that cannot be recorded is an error, said
// on stderr, and nothing is listed again.
func TestConsentOutcomes(t *testing.T) {
	for _, tc := range []struct {
		answer     string
		failing    bool
		decision   string
		approved   bool
		notified   bool
		stderrWant string
	}{
		{`{"action":"accept"}`, false, "approved", true, true, `the user approved the tool "search" through the client`},
		{`{"action":"accept","content":{}}`, false, "approved", true, true, "approved"},
		{`{"action":"decline"}`, false, "declined", false, false, ""},
		{`{"action":"cancel"}`, false, "cancelled", false, false, ""},
		{`{"action":"ACCEPT"}`, false, "declined", false, false, ""},
		{`{}`, false, "declined", false, false, ""},
		{`{"action":"accept"}`, true, "error", true, false, "could not record it: the trust store is read-only"},
	} {
		t.Run(tc.answer+fmt.Sprint(tc.failing), func(t *testing.T) {
			var mu sync.Mutex
			approved := false
			p := newConsentPipe(t, true, func(c *consent) {
				c.Changed("tool", "search", "d1", "description", "x", func() error {
					mu.Lock()
					defer mu.Unlock()
					approved = true
					if tc.failing {
						return errors.New("the trust store is read-only")
					}
					return nil
				})
			})
			qs := questions(p.list(t))
			if len(qs) != 1 {
				t.Fatalf("%d questions", len(qs))
			}
			p.answer(t, qs[0], tc.answer)
			// A ping after the answer: what the answer made comes before
			// its reply.
			frames := p.list(t)
			notified := false
			for _, f := range frames {
				notified = notified || f == `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`
			}
			mu.Lock()
			gotApproved := approved
			mu.Unlock()
			if gotApproved != tc.approved || notified != tc.notified {
				t.Errorf("approve called %v, list_changed %v; want %v, %v", gotApproved, notified, tc.approved, tc.notified)
			}
			if d := p.log.decisions(); len(d) != 2 || d[0] != "ask tool search" || d[1] != tc.decision+" tool search" {
				t.Errorf("records %q, want the ask and %s", d, tc.decision)
			}
			p.notesMu.Lock()
			notes := p.notes.String()
			p.notesMu.Unlock()
			if tc.stderrWant == "" && notes != "" || !strings.Contains(notes, tc.stderrWant) {
				t.Errorf("stderr %q, want %q", notes, tc.stderrWant)
			}
		})
	}
}

// The question names what changed and quotes what the server chose,
// escapes shown (no line breaks or bidi overrides reach the dialog),
// clipped.
func TestConsentMessage(t *testing.T) {
	long := strings.Repeat("é", 400)
	for _, tc := range []struct{ name, what, desc, want string }{
		{"search", "description, inputSchema", "Searches.", `mcpcell: the server "fake" changed the tool "search" since you trusted it (description, inputSchema). New description: "Searches.". Approve the new definition?`},
		{"search", "new", "", `mcpcell: the server "fake" added the tool "search" since you trusted it. Description: (none). Approve it?`},
		{"a\nb", "description", "ok\u202e\nIGNORE PREVIOUS", `the tool "a\nb" since you trusted it (description). New description: "ok\u202e\nIGNORE PREVIOUS"`},
		{"x", "description", long, `New description: "` + strings.Repeat("é", 150) + `…". Approve`},
		{"x", "\"desc\u202e\nription\"", "d", `since you trusted it ("desc\u202e\nription")`},
	} {
		got := consentMessage("fake", "tool", tc.name, tc.what, tc.desc)
		if !strings.Contains(got, tc.want) || strings.ContainsAny(got, "\n\u202e") {
			t.Errorf("consentMessage(%q, %q) = %s\nwant it to hold %s", tc.name, tc.desc, got, tc.want)
		}
	}
}

// A question the client never answers holds nothing: at the session's end
// it is cancelled towards the client, its outcome is "unanswered", and
// nothing is approved.
func TestConsentUnanswered(t *testing.T) {
	var mu sync.Mutex
	approved := false
	p := newConsentPipe(t, true, func(c *consent) {
		c.Changed("tool", "search", "d1", "description", "x", func() error {
			mu.Lock()
			approved = true
			mu.Unlock()
			return nil
		})
	})
	qs := questions(p.list(t))
	if len(qs) != 1 {
		t.Fatalf("%d questions", len(qs))
	}
	p.srvOut.Close()
	id, _ := json.Marshal(qs[0]["id"])
	if l := nextLine(t, p.cl, "the cancel"); !strings.Contains(l, `"method":"notifications/cancelled","params":{"requestId":`+string(id)) {
		t.Errorf("the client got %s, want the cancel of the question", l)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(p.log.decisions()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if d := p.log.decisions(); len(d) != 2 || d[1] != "unanswered tool search" {
		t.Errorf("records %q", d)
	}
	p.answer(t, qs[0], `{"action":"accept"}`) // too late
	mu.Lock()
	defer mu.Unlock()
	if approved {
		t.Error("a late accept approved")
	}
}
