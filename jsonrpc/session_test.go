package jsonrpc

import (
	"fmt"
	"io"
	"testing"
)

// Two sessions of one Interposer run at once, each between its own
// pipes, and share nothing but its configuration: both have the same
// ids 1…n in flight at the same time (shared tables would refuse the
// second's as duplicates, or hand one's answers to the other), each
// client gets its own server's answers, and each call and its answer
// are recorded once, under the method of the session that made it.
// Run it with -race: a session that wrote its Interposer would race.
func TestSessionsShareNothing(t *testing.T) {
	const n = 50
	log := &eventLog{}
	ip := &Interposer{Policy: allowAll{}, Recorder: log}
	type side struct {
		name   string
		p      *pipeline
		cl, sv chan string
	}
	var sides []side
	for _, name := range []string{"a", "b"} {
		p := newPipeline(t, ip)
		sides = append(sides, side{name: name, p: p, cl: collect(p.fromCell), sv: collect(p.serverIn)})
	}
	for i := 1; i <= n; i++ {
		for _, s := range sides {
			fmt.Fprintf(s.p.client, `{"jsonrpc":"2.0","id":%d,"method":"%s/call"}`+"\n", i, s.name)
		}
	}
	// Both servers hold ids 1…n before either answers.
	for _, s := range sides {
		for i := 1; i <= n; i++ {
			want(t, s.sv, "session "+s.name+"'s server", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"%s/call"}`, i, s.name))
		}
	}
	for i := n; i >= 1; i-- {
		for _, s := range sides {
			fmt.Fprintf(s.p.serverOut, `{"jsonrpc":"2.0","id":%d,"result":{"from":"%s"}}`+"\n", i, s.name)
		}
	}
	for _, s := range sides {
		for i := n; i >= 1; i-- {
			want(t, s.cl, "session "+s.name+"'s client", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":{"from":"%s"}}`, i, s.name))
		}
	}
	for _, s := range sides {
		s.p.client.Close()
		s.p.serverOut.Close()
		if err := <-s.p.done; err != nil {
			t.Errorf("session %s: Run = %v", s.name, err)
		}
	}
	got := map[string]int{}
	for _, e := range log.all() {
		got[fmt.Sprintf("%v %v %s %s", e.Dir, e.Kind, e.Decision, e.Method)]++
	}
	for _, s := range sides {
		for _, k := range []string{
			fmt.Sprintf("%v %v allow %s/call", Up, Request, s.name),
			fmt.Sprintf("%v %v allow %s/call", Down, Response, s.name),
		} {
			if got[k] != n {
				t.Errorf("%d records of %q, want %d", got[k], k, n)
			}
		}
	}
	if len(got) != 2*len(sides) {
		t.Errorf("records %v, want only the calls and their answers", got)
	}
}

// A session runs once: a second Run is refused and leaves the first's
// state alone.
func TestSessionRunsOnce(t *testing.T) {
	p := newPipeline(t, &Interposer{Policy: allowAll{}})
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":1,"method":"ping"}`+"\n")
	p.line(t, p.serverIn)
	if err := p.s.Run(nil, io.Discard, nopCloser{io.Discard}, nil); err != errRunAgain {
		t.Fatalf("a second Run = %v, want %v", err, errRunAgain)
	}
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":1,"result":{}}`+"\n")
	if got := p.line(t, p.fromCell); got != `{"jsonrpc":"2.0","id":1,"result":{}}` {
		t.Errorf("after a second Run the first session's call got %s", got)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
