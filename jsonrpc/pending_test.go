package jsonrpc

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// collect reads r's lines into a channel, so that a test can write many
// frames before it reads what they made.
func collect(r *bufio.Reader) chan string {
	ch := make(chan string, 1<<16)
	go func() {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				close(ch)
				return
			}
			ch <- strings.TrimSuffix(l, "\n")
		}
	}()
	return ch
}

// want reads the next line of ch and checks that it starts with prefix.
func want(t *testing.T, ch chan string, what, prefix string) string {
	t.Helper()
	select {
	case l, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the stream ended, want %s…", what, prefix)
		}
		if !strings.HasPrefix(l, prefix) {
			t.Fatalf("%s: got %s, want %s…", what, clip([]byte(l)), prefix)
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing in 10s, want %s…", what, prefix)
	}
	return ""
}

// tables returns what the session's tables hold: calls awaiting an
// answer, their bytes, and cancelled requests remembered.
func tables(s *Session, dir Direction) (calls, bytes, cancelled, ring int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.owed(dir)
	return len(p.calls), p.bytes, len(p.cancelled), len(p.ring)
}

func countRule(log *eventLog, rule string) (records, events int) {
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, e := range log.events {
		if e.Rule == rule {
			records++
			events += max(e.Count, 1)
		}
	}
	return records, events
}

// A peer that leaves requests unanswered, in either direction, fills its
// table to maxPending; the next request is refused to its sender, under
// its id, audited and counted, and never reaches the other side. An
// answer makes room again (the control: the same request goes through
// then). When the server exits, every request forwarded gets exactly one
// answer, and the refused ones none more.
func TestPendingBoundCount(t *testing.T) {
	log := &eventLog{}
	ip := &Interposer{Policy: allowAll{}, Recorder: log}
	p := newPipeline(t, ip)
	toServer, toClient := collect(p.serverIn), collect(p.fromCell)

	// The client pipelines to a server that never answers.
	go func() {
		w := bufio.NewWriter(p.client)
		for i := 1; i <= maxPending+20; i++ {
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"method":"tools/call"}`+"\n", i)
		}
		w.Flush()
	}()
	for i := 1; i <= maxPending; i++ {
		want(t, toServer, "a call in the bound", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call"}`, i))
	}
	for i := maxPending + 1; i <= maxPending+20; i++ {
		l := want(t, toClient, "a call past the bound", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"error":{"code":-32603,"message":"mcpcell: too many requests from the client await an answer`, i))
		if !strings.Contains(l, "at most 4096") {
			t.Errorf("the refusal names no bound: %s", l)
		}
	}
	if calls, _, _, _ := tables(p.s, Up); calls != maxPending {
		t.Errorf("the client's table holds %d calls, want %d", calls, maxPending)
	}
	// An answer makes room: the control.
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":1,"result":{}}`+"\n")
	want(t, toClient, "the answer to 1", `{"jsonrpc":"2.0","id":1,"result":{}}`)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":"next","method":"tools/call"}`+"\n")
	want(t, toServer, "a call once there is room", `{"jsonrpc":"2.0","id":"next","method":"tools/call"}`)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":"past","method":"tools/call"}`+"\n")
	want(t, toClient, "a call past the bound again", `{"jsonrpc":"2.0","id":"past","error":{"code":-32603,`)

	// The server asks the client what it never answers: the same bound.
	for i := 1; i <= maxPending+5; i++ {
		fmt.Fprintf(p.serverOut, `{"jsonrpc":"2.0","id":"s%d","method":"roots/list"}`+"\n", i)
		if i <= maxPending {
			want(t, toClient, "a server request in the bound", fmt.Sprintf(`{"jsonrpc":"2.0","id":"s%d","method":"roots/list"}`, i))
		} else {
			want(t, toServer, "a server request past the bound", fmt.Sprintf(`{"jsonrpc":"2.0","id":"s%d","error":{"code":-32603,"message":"mcpcell: too many requests from the server await an answer`, i))
		}
	}
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":"s9","result":{"roots":[]}}`+"\n")
	want(t, toServer, "the client's answer", `{"jsonrpc":"2.0","id":"s9","result":`)
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":"again","method":"roots/list"}`+"\n")
	want(t, toClient, "a server request once there is room", `{"jsonrpc":"2.0","id":"again","method":"roots/list"}`)

	// The server exits: each call forwarded and unanswered gets one
	// answer, and nothing else comes.
	p.serverOut.Close()
	owed := map[string]int{}
	for l := range toClient {
		m, err := Parse([]byte(l))
		if err != nil || m.Kind != Response || !strings.Contains(l, "exited before answering") {
			t.Fatalf("after the server's exit the client got %s", clip([]byte(l)))
		}
		owed[m.ID.String()]++
		if len(owed) == maxPending {
			break
		}
	}
	for i := 2; i <= maxPending; i++ {
		if n := owed[fmt.Sprint(i)]; n != 1 {
			t.Errorf("call %d: %d answers at the server's exit, want 1", i, n)
		}
	}
	if owed[`"next"`] != 1 {
		t.Errorf("call \"next\": %d answers at the server's exit, want 1", owed[`"next"`])
	}
	if err := <-p.done; err != nil {
		t.Errorf("Run = %v", err)
	}
	records, events := countRule(log, "pending-bound")
	if events != 20+1+5 || records >= events {
		t.Errorf("the audit log has %d refusals past the bound in %d records, want %d, counted", events, records, 26)
	}
}

// subjectPolicy allows everything and names the subject of a request, as
// the profile's policy does: a tool's name.
type subjectPolicy struct{ allowAll }

func (subjectPolicy) Message(dir Direction, m *Message) Verdict {
	name, _ := jsontext.String(jsontext.Lookup(m.Params, "name"))
	return Verdict{Subject: name}
}

// What a table keeps of the peer's choosing is bounded in bytes: long
// ids, ids whose escapes make a decoded copy, long subjects. A request
// that does not fit is refused; one that does goes on (the control).
func TestPendingBoundBytes(t *testing.T) {
	const max = 32 << 20
	ip := &Interposer{Policy: subjectPolicy{}, MaxFrame: max}
	p := newPipeline(t, ip)
	toServer, toClient := collect(p.serverIn), collect(p.fromCell)
	send := func(id, name string) {
		go fmt.Fprintf(p.client, `{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":%q}}`+"\n", id, name)
	}
	answer := func(id string) {
		io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":`+id+`,"result":{}}`+"\n")
		want(t, toClient, "the answer to "+id[:min(len(id), 20)], `{"jsonrpc":"2.0","id":`+id[:min(len(id), 20)])
	}
	for _, c := range []struct {
		what string
		id   func(i int) string // the i-th id
		name string
	}{
		{"64 KiB ids", func(i int) string { return fmt.Sprintf(`"%d-%s"`, i, strings.Repeat("x", 64<<10)) }, ""},
		{"escaped ids", func(i int) string { return fmt.Sprintf(`"%d-%s"`, i, strings.Repeat(`\u0041`, 10<<10)) }, ""},
		{"long names", func(i int) string { return fmt.Sprint(i) }, strings.Repeat("n", 1<<20)},
	} {
		var sent []string
		for i := 0; ; i++ {
			id := c.id(i)
			send(id, c.name)
			l := ""
			select {
			case l = <-toServer:
			case l = <-toClient:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no answer to request %d", c.what, i)
			}
			if strings.HasPrefix(l, `{"jsonrpc":"2.0","id":`+id+`,"method"`) {
				sent = append(sent, id)
				continue
			}
			if !strings.HasPrefix(l, `{"jsonrpc":"2.0","id":`+id+`,"error":{"code":-32603,"message":"mcpcell: too many requests`) {
				t.Fatalf("%s: request %d got %s", c.what, i, clip([]byte(l)))
			}
			break
		}
		keeps := func(id string) int {
			m, _ := Parse([]byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call"}`, id)))
			return footprint(&Call{ID: m.ID, Method: "tools/call", Subject: c.name})
		}
		sum := 0
		for _, id := range sent {
			sum += keeps(id)
		}
		_, bytes, _, _ := tables(p.s, Up)
		if len(sent) < 2 || bytes != sum || sum > maxPendingBytes || sum+keeps(c.id(len(sent))) <= maxPendingBytes {
			t.Errorf("%s: %d requests went on, keeping %d bytes (%d counted here); want as many as fit in %d", c.what, len(sent), bytes, sum, maxPendingBytes)
		}
		if c.what == "escaped ids" && keeps(c.id(0)) < 70<<10 {
			t.Errorf("an escaped id of 10 K characters counts %d bytes: not its decoded copy too", keeps(c.id(0)))
		}
		// The control: an answer makes room for one more.
		answer(sent[0])
		send(c.id(-1), c.name)
		want(t, toServer, c.what+": once there is room", `{"jsonrpc":"2.0","id":`+c.id(-1)[:min(len(c.id(-1)), 20)])
		for _, id := range append(sent[1:], c.id(-1)) {
			answer(id)
		}
		if calls, bytes, _, _ := tables(p.s, Up); calls != 0 || bytes != 0 {
			t.Errorf("%s: once all are answered the table holds %d calls of %d bytes", c.what, calls, bytes)
		}
	}
	// One id larger than the bound is refused, however empty the table.
	id := `"` + strings.Repeat("y", maxPendingBytes) + `"`
	send(id, "")
	want(t, toClient, "an id past the bound alone", `{"jsonrpc":"2.0","id":"yyyy`)
}

// A cancelled request leaves a tomb: its id cannot be used again while
// an answer may still come, a late answer is dropped, never taken for a
// later request's, and once it has come the id is free. Before, the
// entry was kept for the session's life, its id refused for ever. The
// case of the review: the client cancels tools/list 5 and reuses 5 for a
// tools/call; the server's late tools/list answer must not pass as the
// call's result.
func TestCancelledTomb(t *testing.T) {
	log := &eventLog{}
	ip := &Interposer{Policy: batchPolicy{}, Recorder: log}
	p := newPipeline(t, ip)
	toServer, toClient := collect(p.serverIn), collect(p.fromCell)
	client := func(s string) { io.WriteString(p.client, s+"\n") }
	server := func(s string) { io.WriteString(p.serverOut, s+"\n") }
	// quiet checks that nothing came to the client since what: a ping
	// the client sends now gets the next frame, its answer.
	n := 0
	quiet := func(what string) {
		t.Helper()
		n++
		client(fmt.Sprintf(`{"jsonrpc":"2.0","id":"ping%d","method":"ping"}`, n))
		want(t, toServer, "a ping", fmt.Sprintf(`{"jsonrpc":"2.0","id":"ping%d","method":"ping"}`, n))
		server(fmt.Sprintf(`{"jsonrpc":"2.0","id":"ping%d","result":{}}`, n))
		want(t, toClient, what+" (then the ping's answer)", fmt.Sprintf(`{"jsonrpc":"2.0","id":"ping%d","result":{}}`, n))
	}

	client(`{"jsonrpc":"2.0","id":5,"method":"tools/list"}`)
	want(t, toServer, "tools/list 5", `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`)
	client(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}`)
	want(t, toServer, "the cancellation", `{"jsonrpc":"2.0","method":"notifications/cancelled"`)
	client(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"}}`)
	want(t, toClient, "5 reused while the answer may come", `{"jsonrpc":"2.0","id":5,"error":{"code":-32600,"message":"mcpcell: request id 5 was cancelled`)
	if calls, bytes, cancelled, _ := tables(p.s, Up); calls != 0 || bytes != 0 || cancelled != 1 {
		t.Errorf("after the cancellation the table holds %d calls of %d bytes and %d tombs; want only the tomb", calls, bytes, cancelled)
	}
	server(`{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"hidden_tool"}]}}`)
	quiet("the late tools/list answer")
	if records, _ := countRule(log, "cancelled"); records != 1 {
		t.Errorf("the late answer has %d records, want 1", records)
	}
	// Its answer came: 5 is free, and the call's result is the server's
	// answer to the call.
	client(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"}}`)
	want(t, toServer, "5 reused once the answer came", `{"jsonrpc":"2.0","id":5,"method":"tools/call"`)
	server(`{"jsonrpc":"2.0","id":5,"result":{"content":[]}}`)
	want(t, toClient, "the call's own answer", `{"jsonrpc":"2.0","id":5,"result":{"content":[]}}`)

	// Neighbours. A late answer the strict decoder refuses: dropped, not
	// an error to a client that stopped waiting; and under 29.0 for 29.
	for _, late := range []string{
		`{"jsonrpc":"2.0","id":7,"result":{"a":1,"a":2}}`,
		`{"result":{},"jsonrpc":"2.0","id":7,"x":1}`,
		`{"jsonrpc":"2.0","id":7.0,"result":{}}`,
	} {
		client(`{"jsonrpc":"2.0","id":7,"method":"tools/call"}`)
		want(t, toServer, "call 7", `{"jsonrpc":"2.0","id":7,`)
		client(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`)
		want(t, toServer, "its cancellation", `{"jsonrpc":"2.0","method":"notifications/cancelled"`)
		server(late)
		quiet("a broken late answer " + late)
	}
	// A cancellation under another id ("5" is not 5) leaves the call
	// alone: its answer goes to the client.
	client(`{"jsonrpc":"2.0","id":8,"method":"tools/call"}`)
	want(t, toServer, "call 8", `{"jsonrpc":"2.0","id":8,`)
	client(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"8"}}`)
	want(t, toServer, "a cancellation of \"8\"", `{"jsonrpc":"2.0","method":"notifications/cancelled"`)
	server(`{"jsonrpc":"2.0","id":8,"result":{"ok":1}}`)
	want(t, toClient, "call 8's answer", `{"jsonrpc":"2.0","id":8,"result":{"ok":1}}`)
	// A request and its cancellation in one batch (2025-03-26).
	client(`[{"jsonrpc":"2.0","id":9,"method":"tools/call"},{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}]`)
	want(t, toServer, "the batch", `[{"jsonrpc":"2.0","id":9,`)
	client(`[{"jsonrpc":"2.0","id":9,"method":"tools/call"}]`)
	want(t, toClient, "9 reused in a batch", `{"jsonrpc":"2.0","id":9,"error":{"code":-32600,"message":"mcpcell: request id 9 was cancelled`)

	// The server's side: it pings the client under "a" and cancels it at
	// once; a client that follows the spec never answers. The server's
	// reuse of "a" is refused while an answer may come; the client's late
	// answer is dropped, and "a" is free then.
	server(`{"jsonrpc":"2.0","id":"a","method":"ping"}`)
	want(t, toClient, "the server's ping", `{"jsonrpc":"2.0","id":"a","method":"ping"}`)
	server(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a"}}`)
	want(t, toClient, "its cancellation", `{"jsonrpc":"2.0","method":"notifications/cancelled"`)
	server(`{"jsonrpc":"2.0","id":"a","method":"roots/list"}`)
	want(t, toServer, "\"a\" reused", `{"jsonrpc":"2.0","id":"a","error":{"code":-32600,"message":"mcpcell: request id \"a\" was cancelled`)
	client(`{"jsonrpc":"2.0","id":"a","result":{}}`)
	server(`{"jsonrpc":"2.0","id":"srv","method":"ping"}`)
	want(t, toClient, "the next server request", `{"jsonrpc":"2.0","id":"srv","method":"ping"}`)
	client(`{"jsonrpc":"2.0","id":"srv","result":{}}`)
	want(t, toServer, "the answer to srv, not the late one", `{"jsonrpc":"2.0","id":"srv","result":{}}`)
	server(`{"jsonrpc":"2.0","id":"a","method":"roots/list"}`)
	want(t, toClient, "\"a\" once the answer came", `{"jsonrpc":"2.0","id":"a","method":"roots/list"}`)
}

// Cancelled requests are remembered in a bounded FIFO, without their ids'
// bytes: a flood of requests with long ids, each cancelled at once and
// never answered, keeps at most maxCancelled small tombs, and the oldest
// id is free again once forgotten. Before, every entry was kept, id and
// all, for the session's life.
func TestCancelledForgotten(t *testing.T) {
	ip := &Interposer{Policy: allowAll{}}
	p := newPipeline(t, ip)
	toServer, toClient := collect(p.serverIn), collect(p.fromCell)
	id := func(i int) string { return fmt.Sprintf(`"%d-%s"`, i, strings.Repeat("z", 1000)) }
	const n = maxCancelled + 100
	go func() {
		w := bufio.NewWriter(p.client)
		for i := range n {
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"method":"ping"}`+"\n", id(i))
			fmt.Fprintf(w, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":%s}}`+"\n", id(i))
		}
		w.Flush()
	}()
	for i := range 2 * n {
		if i%2 == 0 {
			want(t, toServer, "a ping", `{"jsonrpc":"2.0","id":"`)
		} else {
			want(t, toServer, "a cancellation", `{"jsonrpc":"2.0","method":"notifications/cancelled"`)
		}
	}
	calls, bytes, cancelled, ring := tables(p.s, Up)
	if calls != 0 || bytes != 0 || cancelled != maxCancelled || ring != maxCancelled {
		t.Errorf("after %d cancelled requests the table holds %d calls of %d bytes, %d tombs in a ring of %d; want %d tombs and nothing else", n, calls, bytes, cancelled, ring, maxCancelled)
	}
	// The forgotten ids are free; the remembered ones are not.
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id(0)+`,"method":"ping"}`+"\n")
	want(t, toServer, "a forgotten id", `{"jsonrpc":"2.0","id":`+id(0))
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id(n-1)+`,"method":"ping"}`+"\n")
	want(t, toClient, "a remembered id", `{"jsonrpc":"2.0","id":`+id(n-1)+`,"error":{"code":-32600,`)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id(99)+`,"method":"ping"}`+"\n")
	want(t, toServer, "the last forgotten id", `{"jsonrpc":"2.0","id":`+id(99))
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id(100)+`,"method":"ping"}`+"\n")
	want(t, toClient, "the oldest remembered id", `{"jsonrpc":"2.0","id":`+id(100)+`,"error":{"code":-32600,`)
	// A late answer to a remembered one is dropped, and its id freed;
	// one to a forgotten one is a stray (or the answer to its reuse).
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":`+id(n-1)+`,"result":{}}`+"\n")
	io.WriteString(p.serverOut, `{"jsonrpc":"2.0","id":`+id(0)+`,"result":{}}`+"\n")
	want(t, toClient, "the answer to the reused forgotten id", `{"jsonrpc":"2.0","id":`+id(0)+`,"result":{}}`)
	io.WriteString(p.client, `{"jsonrpc":"2.0","id":`+id(n-1)+`,"method":"ping"}`+"\n")
	want(t, toServer, "a remembered id whose answer came", `{"jsonrpc":"2.0","id":`+id(n-1))
}

// The tomb FIFO keeps a re-cancelled id: an id cancelled, answered late
// and cancelled again is remembered from its second cancellation, not
// forgotten when its first one's slot comes round.
func TestCancelledRingReuse(t *testing.T) {
	p := newPending()
	cancel := func(id string) IDKey {
		m, err := Parse([]byte(`{"jsonrpc":"2.0","id":"` + id + `","method":"ping"}`))
		if err != nil {
			t.Fatal(err)
		}
		if !p.add(&Call{ID: m.ID, Method: m.Method}) {
			t.Fatalf("%s not added", id)
		}
		p.cancel(m.ID.Key())
		return m.ID.Key()
	}
	k := cancel("k") // slot 0
	if c, late := p.take(k); c != nil || late == nil || late.method != "ping" {
		t.Fatalf("the late answer to k: call %v, tomb %v", c, late)
	}
	for i := range 10 {
		cancel(fmt.Sprint(i))
	}
	cancel("k") // slot 11
	for i := 12; i < maxCancelled; i++ {
		cancel(fmt.Sprint(i))
	}
	cancel("x") // evicts slot 0, k's first cancellation
	if _, ok := p.cancelled[p.digest(k)]; !ok {
		t.Errorf("k, cancelled again at slot 11, was forgotten with slot 0")
	}
	for i := range 11 {
		cancel(fmt.Sprint("y", i))
	}
	if _, ok := p.cancelled[p.digest(k)]; ok || len(p.cancelled) != maxCancelled || p.bytes != 0 || len(p.calls) != 0 {
		t.Errorf("after slot 11 came round: k remembered %v, %d tombs, %d calls of %d bytes; want k forgotten, %d tombs", ok, len(p.cancelled), len(p.calls), p.bytes, maxCancelled)
	}
}
