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
// request of the first BatchKeep answered with the error; a batch of
// BatchKeep is taken (the control).
func TestBatchBound(t *testing.T) {
	s := fakeSession(t, "", "2025-03-26")
	batch := func(from, n int) string {
		var b strings.Builder
		b.WriteString("[")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"ping"}`, from+i)
		}
		return b.String() + "]"
	}
	for _, c := range []struct {
		from, n int
		want    string
	}{{10000, 1000, "result"}, {20000, 1001, "-32600"}} {
		s.send(batch(c.from, c.n))
		got := map[string]int{}
		for seen := 0; seen < 1000; {
			var msgs []map[string]any
			f := s.next()
			if json.Unmarshal(f, &msgs) != nil {
				var m map[string]any
				json.Unmarshal(f, &m)
				msgs = []map[string]any{m}
			}
			for _, m := range msgs {
				what := "result"
				if code, _ := errorOf(m); code != 0 {
					what = fmt.Sprint(code)
				}
				got[what]++
				seen++
			}
		}
		if got[c.want] != 1000 || len(got) != 1 {
			t.Errorf("a batch of %d pings: %v, want 1000 %s", c.n, got, c.want)
		}
	}
	if r := s.call(1, "ping", `{}`); r["result"] == nil {
		t.Errorf("a ping after the batches: %v", r)
	}
}
