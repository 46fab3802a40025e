package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// peakRSS is the peak resident memory of process pid in bytes.
func peakRSS(t *testing.T, pid int) int { return statusKiB(t, pid, "VmHWM") << 10 }

// The fifth review's break: the lenient reading that finds the ids of a
// refused frame kept a sketch of some 100 bytes for each element of an
// array, so a server line [1,1,1,…] of 4 MB took mcpcell from 9 to 354 MB
// within the bound, and past a 1 MiB bound 8 MB took it to 744 MB, a line
// that never ends without limit. Now a batch's first BatchKeep elements
// are kept and the rest counted: mcpcell's peak grows by a bounded amount,
// the call after the line is answered. Mutation: with every element kept,
// the peak grows by hundreds of MB and the test fails.
func TestAttackBatchMemory(t *testing.T) {
	for _, c := range []struct{ name, profile, frame string }{
		{"within the bound", "", "[$ONES$ONES1]"},
		{"past the bound", "[limits]\nmax_frame = 1048576\n", "[$ONES$ONES1]"},
		{"past the bound, cut short", "[limits]\nmax_frame = 1048576\n", "[$ONES$ONES"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := fakeSession(t, c.profile, "2025-11-25")
			if r := s.call(1, "ping", `{}`); r["result"] == nil {
				t.Fatalf("ping: %v", r)
			}
			before := peakRSS(t, s.cmd.Process.Pid)
			args, _ := json.Marshal(map[string]any{"frames": []string{c.frame}, "answer": true})
			if got := resultText(s.call(2, "tools/call", `{"name":"raw","arguments":`+string(args)+`}`)); got != "said" {
				t.Errorf("the call after the line: %q", got)
			}
			grew := peakRSS(t, s.cmd.Process.Pid) - before
			t.Logf("peak memory grew by %d MB for a line of 8 MB", grew>>20)
			if grew > 64<<20 {
				t.Errorf("mcpcell's peak memory grew by %d MB for a line of 8 MB", grew>>20)
			}
		})
	}
}

// A 2025-03-26 batch of more than BatchKeep messages is refused, each
// request in it answered with the error (review 6: those past the first
// BatchKeep elements were not answered), also where notifications fill
// the first BatchKeep; a batch of BatchKeep is taken (the control).
func TestBatchBound(t *testing.T) {
	s := fakeSession(t, "", "2025-03-26")
	batch := func(from, notes, n int) string {
		var b strings.Builder
		b.WriteString("[")
		for range notes {
			b.WriteString(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}},`)
		}
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"ping"}`, from+i)
		}
		return b.String() + "]"
	}
	for _, c := range []struct {
		from, notes, n int
		want           string
	}{{10000, 0, 1000, "result"}, {20000, 0, 1001, "-32600"}, {30000, 999, 2, "-32600"}, {40000, 0, 5000, "-32600"}} {
		s.send(batch(c.from, c.notes, c.n))
		// A ping after the batch is answered after every answer to it.
		s.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
		got := map[string]int{}
		ids := map[float64]bool{}
		for done := false; !done; {
			var msgs []map[string]any
			f := s.next()
			if json.Unmarshal(f, &msgs) != nil {
				var m map[string]any
				json.Unmarshal(f, &m)
				msgs = []map[string]any{m}
			}
			for _, m := range msgs {
				id, _ := m["id"].(float64)
				if id == 1 {
					done = true
					continue
				}
				what := "result"
				if code, _ := errorOf(m); code != 0 {
					what = fmt.Sprint(code)
				}
				got[what]++
				if ids[id] {
					t.Errorf("id %v answered twice", id)
				}
				ids[id] = true
			}
		}
		if got[c.want] != c.n || len(got) != 1 || len(ids) != c.n {
			t.Errorf("a batch of %d notifications and %d pings: %v for %d ids, want %d %s", c.notes, c.n, got, len(ids), c.n, c.want)
		}
	}
}
