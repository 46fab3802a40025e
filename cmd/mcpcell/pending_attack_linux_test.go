package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The bounds of jsonrpc's pending tables (maxPending, maxPendingBytes).
const (
	maxPending      = 4096
	maxPendingBytes = 4 << 20
)

// statusKiB is the field (VmRSS, VmHWM…) of /proc/PID/status of process
// pid, in KiB.
func statusKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// rssKiB is the resident memory of process pid, in KiB.
func rssKiB(t *testing.T, pid int) int { return statusKiB(t, pid, "VmRSS") }

// drainCall reads mcpcell's frames until the answer to the client's
// request id, counting, without keeping them (they are large), the
// server's requests under a flood's id and its cancellations.
func drainCall(t *testing.T, s *session, id string) (requests, cancels int, answer map[string]any) {
	t.Helper()
	deadline := time.After(120 * time.Second)
	for {
		select {
		case f, ok := <-s.lines:
			if !ok {
				t.Fatalf("mcpcell closed its output; stderr:\n%s", s.stderr.String())
			}
			switch {
			case bytes.HasPrefix(f, []byte(`{"jsonrpc":"2.0","id":"f`)):
				requests++
			case bytes.Contains(f, []byte(`"method":"notifications/cancelled"`)):
				cancels++
			case hasID(string(f), id) && !bytes.Contains(f, []byte(`"method"`)):
				if err := json.Unmarshal(f, &answer); err != nil {
					t.Fatalf("mcpcell wrote %q", f)
				}
				return requests, cancels, answer
			}
		case <-deadline:
			t.Fatalf("no answer to %s in 120s; stderr:\n%s", id, s.stderr.String())
		}
	}
}

// A hostile server that asks the client what it never answers: first
// pings with 48 KiB ids, each cancelled in the same write, so that a
// client that follows the spec (the TypeScript SDK's) answers none; then
// pings that it leaves in flight. mcpcell kept every one, id and all, for
// the session's life (the review: 13 to 46 MB over 2400 pings of 24 KiB;
// here some 240 MB). Now a cancelled request leaves a tomb without its
// id, and what the server's requests in flight keep is bounded: past
// maxPendingBytes a request is refused to the server under its id, and
// audited, counted. The controls: every cancelled ping reaches the
// client, and so do the pings in flight up to the bound.
func TestAttackPendingFlood(t *testing.T) {
	const (
		kb     = 48
		n      = 1000
		rounds = 4
	)
	profile := writeProfile(t, "")
	s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	pid := s.cmd.Process.Pid
	flood := func(id int, cancel bool) (requests, cancels int) {
		t.Helper()
		s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"pending_flood","arguments":{"N":%d,"KB":%d,"Cancel":%v,"Method":"ping"}}}`, id, n, kb, cancel))
		requests, cancels, answer := drainCall(t, s, fmt.Sprint(id))
		if got := resultText(answer); got != fmt.Sprint("flooded ", n) {
			t.Fatalf("the flood's call: %v", answer)
		}
		return requests, cancels
	}
	start := rssKiB(t, pid)
	for r := 1; r <= rounds; r++ {
		if requests, cancels := flood(r, true); requests != n || cancels != n {
			t.Errorf("round %d: the client got %d pings and %d cancellations, want %d of each", r, requests, cancels, n)
		}
	}
	cancelled := rssKiB(t, pid)
	// What one keeps: its id, quoted, and its method.
	least, most := len(floodID(rounds+1, 0, kb))+2+len("ping"), len(floodID(rounds+1, n, kb))+2+len("ping")
	requests, _ := flood(rounds+1, false)
	inFlight := rssKiB(t, pid)
	t.Logf("mcpcell's RSS: %d MB at the start, %d MB after %d cancelled pings with %d KiB ids, %d MB after %d more left in flight", start>>10, cancelled>>10, rounds*n, kb, inFlight>>10, n)
	// The old code kept every id: it grew by 257 MB. The bound keeps 4 MiB
	// of ids; the rest is the garbage collector's slack over frames in
	// passing (14 MB here, 31 MB with the race detector).
	if grew := (inFlight - start) >> 10; grew > 64 {
		t.Errorf("mcpcell's RSS grew by %d MB over the flood, want less than 64", grew)
	}
	if requests < maxPendingBytes/most || requests > maxPendingBytes/least {
		t.Errorf("of %d pings left in flight the client got %d, want as many as fit in %d bytes (%d)", n, requests, maxPendingBytes, maxPendingBytes/most)
	}
	// The server got an error for each of the others, under its id.
	r := s.call(100, "tools/call", `{"name":"pending_answers","arguments":{}}`)
	var got struct {
		Errors          map[string]int
		Results, BadIDs int
	}
	if err := json.Unmarshal([]byte(resultText(r)), &got); err != nil {
		t.Fatalf("pending_answers: %v", r)
	}
	refused := 0
	for msg, k := range got.Errors {
		if !strings.HasPrefix(msg, "-32603 mcpcell: too many requests from the server await an answer") {
			t.Errorf("the server got %d errors %q", k, msg)
		}
		refused += k
	}
	if refused != n-requests || got.Results != 0 || got.BadIDs != 0 {
		t.Errorf("the server got %d refusals (want %d), %d results, %d answers under ids it never sent", refused, n-requests, got.Results, got.BadIDs)
	}
	if !strings.Contains(s.stderr.String(), "refused a request from the server: too many requests from the server await an answer") {
		t.Errorf("stderr says nothing of the refusals:\n%s", s.stderr.String())
	}
	finish(t, s)
	bound, _ := find(tallyKinds(auditRecords(t, profile)), `^server-to-client\|request\|deny\|pending-bound\|ping$`)
	if bound.events != n-requests || bound.records >= bound.events {
		t.Errorf("the audit log has %d refusals past the bound in %d records, want %d, counted", bound.events, bound.records, n-requests)
	}
}

// The honest case, both peers as the spec has them, with the real
// server-everything: the client cancels calls, and the server never
// answers a cancelled call. mcpcell kept each such call, id and all, for
// the session's life, and its id "already in use". Now:
//   - a cancelled call's id is refused while its answer may still come
//     (the spec forbids reusing an id in a session), with a message that
//     says so, and a new id works (the control: an answered call's id can
//     be used again);
//   - 600 cancelled calls with 64 KiB ids cost no memory to speak of (the
//     review: their ids kept, 38 MB);
//   - calls left in flight are bounded: of 100 calls with 64 KiB ids
//     pipelined to a server that takes 3 s over each, those past
//     maxPendingBytes are refused at once, under their ids, and once the
//     others are answered there is room again.
func TestPendingCancelServerEverything(t *testing.T) {
	nm := nodeModules(t)
	server := nm + "/@modelcontextprotocol/server-everything/dist/index.js"
	profile := writeProfile(t, grantRead(nm))
	s := startSession(t, cellCommand(t, profile, "node", server, "stdio"))
	s.call(1, "initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	pid := s.cmd.Process.Pid
	long := func(id string, seconds float64) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":%v,"steps":1}}}`, id, seconds)
	}
	cancel := func(id string) string {
		return `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":` + id + `,"reason":"user"}}`
	}

	// The control: 7 answered, then used again.
	s.send(long("7", 0.1))
	if r := s.reply("7"); !strings.Contains(resultText(r), "Long running operation completed") {
		t.Fatalf("call 7: %v", r)
	}
	if r := s.call(7, "tools/call", `{"name":"echo","arguments":{"message":"again"}}`); resultText(r) != "Echo: again" {
		t.Errorf("control: 7 used again once answered: %v", r)
	}
	// 8 cancelled: server-everything never answers it.
	s.send(long("8", 5))
	s.send(cancel("8"))
	r := s.call(8, "tools/call", `{"name":"echo","arguments":{"message":"again"}}`)
	if code, msg := errorOf(r); code != -32600 || !strings.Contains(msg, "request id 8 was cancelled, and its answer may still come: use a new id") {
		t.Errorf("8 used again after its cancellation: %v", r)
	}
	if r := s.call(9, "tools/call", `{"name":"echo","arguments":{"message":"new"}}`); resultText(r) != "Echo: new" {
		t.Errorf("a new id after the cancellation: %v", r)
	}

	// 600 cancelled calls with 64 KiB ids.
	start := rssKiB(t, pid)
	id := func(what string, i int) string {
		return fmt.Sprintf(`"%s-%d-%s"`, what, i, strings.Repeat("x", 64<<10))
	}
	for i := range 600 {
		s.send(long(id("c", i), 5) + "\n" + cancel(id("c", i)))
	}
	if r := s.call(10, "ping", `{}`); r["result"] == nil {
		t.Fatalf("ping after the cancelled calls: %v", r)
	}
	cancelled := rssKiB(t, pid)
	t.Logf("mcpcell's RSS: %d MB, %d MB after 600 cancelled calls with 64 KiB ids", start>>10, cancelled>>10)
	if grew := (cancelled - start) >> 10; grew > 20 {
		t.Errorf("mcpcell's RSS grew by %d MB over 600 cancelled calls, want less than 20", grew)
	}

	// 100 calls with 64 KiB ids in flight at once.
	var b strings.Builder
	for i := range 100 {
		b.WriteString(long(id("p", i), 3) + "\n")
	}
	s.send(strings.TrimSuffix(b.String(), "\n"))
	results, refused := 0, 0
	for results+refused < 100 {
		f := s.next()
		var m struct {
			ID     string
			Result json.RawMessage
			Error  *struct{ Code int }
		}
		if json.Unmarshal(f, &m) != nil || !strings.HasPrefix(m.ID, "p-") {
			continue
		}
		switch {
		case m.Result != nil:
			results++
		case m.Error.Code == -32603:
			refused++
		default:
			t.Fatalf("call %.20s: %s", m.ID, f[:min(len(f), 300)])
		}
	}
	if most := maxPendingBytes / len(id("p", 0)); results > most || results < most-2 || refused != 100-results {
		t.Errorf("of 100 calls in flight %d went to the server and %d were refused, want some %d in the bound", results, refused, most)
	}
	s.send(long(id("after", 0), 0.1))
	if r := s.reply(id("after", 0)); !strings.Contains(resultText(r), "completed") {
		t.Errorf("a call with a long id once the others are answered: %v", r)
	}
	finish(t, s)
}

// A late answer to a cancelled request is never taken for another's. The
// client cancels its call 5, which the server leaves unanswered; the
// server then sends, under 5, a listing with the hidden secret_admin. A
// reuse of 5 before that answer is refused, the late answer is dropped
// (had the id been free, it would have passed as the reuse's result,
// unfiltered), and once it has come, 5 is free. Before, 5 was refused
// for the session's life, and the late answer went to the client.
func TestAttackLateAnswerAfterCancel(t *testing.T) {
	profile := writeProfile(t, fakeProfile)
	s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	s.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"raw","arguments":{"Frames":[],"Answer":false}}}`)
	s.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"user"}}`)
	r := s.call(5, "tools/call", `{"name":"echo","arguments":{"text":"again"}}`)
	if code, msg := errorOf(r); code != -32600 || !strings.Contains(msg, "request id 5 was cancelled") {
		t.Errorf("5 used again while its answer may come: %v", r)
	}
	late := `{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"secret_admin","inputSchema":{"type":"object"}}],"content":[{"type":"text","text":"secret_admin is here"}]}}`
	args, _ := json.Marshal(map[string]any{"Frames": []string{late}, "Answer": true})
	s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"raw","arguments":%s}}`, args))
	for {
		f := s.next()
		if hasID(string(f), "5") || bytes.Contains(f, []byte("secret_admin")) {
			t.Fatalf("the late answer reached the client: %s", f)
		}
		if hasID(string(f), "6") {
			break
		}
	}
	if r := s.call(5, "tools/call", `{"name":"echo","arguments":{"text":"again"}}`); resultText(r) != `echo:{"text":"again"}` {
		t.Errorf("5 used again once its late answer came: %v", r)
	}
	finish(t, s)
	late5, _ := find(tallyKinds(auditRecords(t, profile)), `^server-to-client\|response\|drop\|cancelled\|tools/call$`)
	if late5.events != 1 {
		t.Errorf("the audit log has %d late answers dropped, want 1", late5.events)
	}
}
