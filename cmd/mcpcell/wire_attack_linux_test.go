//lint:file-ignore SA1019 the tests exercise sampling and roots, which 2026-07-28 deprecates and the older versions mcpcell serves still have

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/syncbuf"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// These tests attack the policy on the wire as a hostile server or client
// that has read mcpcell's code would, each with a control that shows the
// same attempt working where the protection is not (a profile that
// allows it, or the server reached without mcpcell).

// A server's tools/call result that carries inputRequests without
// resultType "input_required": the official Go SDK client acts on
// inputRequests alone, in every protocol version, and would run its
// elicitation and sampling handlers and send its roots although the
// profile denies all three. The control: a profile that allows them lets
// the same result through, and the client acts on it.
func TestAttackUntypedInputRequests(t *testing.T) {
	for _, version := range []string{"2025-06-18", "2026-07-28"} {
		for _, ask := range []string{"elicitation", "sampling", "roots"} {
			for _, allow := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/allowed=%v", version, ask, allow), func(t *testing.T) {
					profile := writeProfile(t, fmt.Sprintf("[client]\nsampling = %v\nelicitation = %v\nroots = %v\n", allow, allow, allow))
					var ran atomic.Int32
					client := mcp.NewClient(&mcp.Implementation{Name: "victim", Version: "1"}, &mcp.ClientOptions{
						ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
							ran.Add(1)
							return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"password": "hunter2"}}, nil
						},
						CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
							ran.Add(1)
							return &mcp.CreateMessageResult{Role: "assistant", Model: "m", Content: &mcp.TextContent{Text: "the model's words"}}, nil
						},
					})
					client.AddRoots(&mcp.Root{URI: "file:///home/victim/private-project", Name: "private"})
					pin := version
					if version == "2026-07-28" {
						pin = "" // the SDK's default: it probes and speaks 2026-07-28
					}
					cmd := cellCommand(t, profile, os.Args[0], "__fakeserver", "--version="+version)
					stderr := &syncbuf.Buffer{}
					cmd.Stderr = stderr
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					sess, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 5 * time.Second}, &mcp.ClientSessionOptions{ProtocolVersion: pin})
					if err != nil {
						t.Fatalf("connect: %v\n%s", err, stderr.String())
					}
					defer sess.Close()
					if got := sess.InitializeResult().ProtocolVersion; got != version {
						t.Fatalf("negotiated %s, want %s", got, version)
					}
					res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "untyped_input", Arguments: map[string]any{"ask": ask}})
					got := ""
					if err != nil {
						got = err.Error()
					} else {
						got = textOf(res)
					}
					leaked := ran.Load() > 0 || strings.Contains(got, "private-project") || strings.Contains(got, "hunter2") || strings.Contains(got, "the model's words")
					t.Logf("handlers ran %d times; the call: %s", ran.Load(), got)
					if leaked != allow {
						t.Errorf("allowed %v: the client acted on the input request: %v (%s)", allow, leaked, got)
					}
					if !allow && ask == "elicitation" && !strings.Contains(got, `responses:{"q":{"action":"decline"}}`) {
						t.Errorf("denied elicitation: the server got %s, want mcpcell's decline", got)
					}
				})
			}
		}
	}
}

// Argument names that differ in case: a server written with Go's
// encoding/json (mcp-go is) reads "Path" as path, "Arguments" as
// arguments, "pathſ" as paths and "\u212aey" (the Kelvin sign) as key, so
// a constraint must not miss them. They are refused like duplicates,
// before the server sees them. The control: the server, reached
// directly, reads each as the constrained argument.
func TestAttackArgumentSpelling(t *testing.T) {
	constraints := "[tools.args.decode_args]\npath = { within = [\"${PROJECT}\"] }\npaths = { within = [\"${PROJECT}\"] }\nkey = { enum = [\"public\"] }\n[tools.args.read_file]\npath = { within = [\"${PROJECT}\"] }\n"
	attacks := []struct{ params, control string }{
		{`{"name":"decode_args","arguments":{"Path":"/etc/passwd"}}`, `"path":"/etc/passwd"`},
		{`{"name":"decode_args","arguments":{"PATH":"/etc/passwd"}}`, `"path":"/etc/passwd"`},
		{`{"name":"decode_args","arguments":{"path\u017f":["/etc/passwd"]}}`, `"paths":["/etc/passwd"]`},
		{`{"name":"decode_args","arguments":{"\u212aey":"secret"}}`, `"key":"secret"`},
		{`{"name":"decode_args","arguments":{"KEY":"secret"}}`, `"key":"secret"`},
		{`{"name":"read_file","Arguments":{"path":"/etc/passwd"}}`, `read_file:{"path":"/etc/passwd"}`},
		{`{"name":"read_file","ARGUMENTS":{"path":"/etc/passwd"}}`, `read_file:{"path":"/etc/passwd"}`},
	}
	guarded := fakeSession(t, constraints, "2025-11-25")
	direct := startSession(t, exec.Command(os.Args[0], "__fakeserver"))
	direct.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	for i, a := range attacks {
		r := guarded.call(100+i, "tools/call", a.params)
		if code, msg := errorOf(r); code != -32700 || !strings.Contains(msg, "differs only in case") {
			t.Errorf("%s: %v, want -32700 naming the two spellings", a.params, r)
		}
		if got := resultText(direct.call(100+i, "tools/call", a.params)); !strings.Contains(got, a.control) {
			t.Errorf("control %s: the server read %q, want %s", a.params, got, a.control)
		}
	}
	// The neighbours in one spelling are checked as before.
	if got := resultText(guarded.call(200, "tools/call", `{"name":"decode_args","arguments":{"path":"/etc/passwd"}}`)); !strings.Contains(got, "outside the allowed folders") {
		t.Errorf("path /etc/passwd: %q", got)
	}
	if got := resultText(guarded.call(201, "tools/call", `{"name":"decode_args","arguments":{"Mode":"x"}}`)); !strings.HasPrefix(got, "decoded:") {
		t.Errorf("an argument no constraint names, in any case: %q", got)
	}
}

// Ids that alias: a JavaScript server reads -0 as 0 (and 2^53+1 as
// 2^53), so its answer to one request comes back with another's id. With a ping
// 0 in flight, server-everything's tools/list answer to -0 was taken for
// the ping's and passed unfiltered (get-env, which the profile hides,
// among its tools). And 29.0 was refused with id null, so the client
// waited for ever. Now such ids are refused with the id as sent. The
// control: server-everything, reached directly, does answer -0 with 0,
// and lists get-env.
func TestAttackAliasIDs(t *testing.T) {
	nm := nodeModules(t)
	server := filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`
	pairs := []struct{ list, ping, echoed string }{{"-0", "0", "0"}}

	// The control: the server itself.
	direct := exec.Command("node", server, "stdio")
	in, _ := direct.StdinPipe()
	out, _ := direct.StdoutPipe()
	if err := direct.Start(); err != nil {
		t.Fatal(err)
	}
	defer direct.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		r := bufio.NewReader(out)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- l
		}
	}()
	readID := func(want string) string {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("server-everything closed its output")
				}
				if hasID(l, want) {
					return l
				}
			case <-deadline:
				t.Fatalf("no answer with id %s from server-everything", want)
			}
		}
	}
	fmt.Fprintln(in, initialize)
	readID("1")
	fmt.Fprintln(in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for _, p := range pairs {
		fmt.Fprintf(in, `{"jsonrpc":"2.0","id":%s,"method":"tools/list"}`+"\n", p.list)
		if l := readID(p.echoed); !strings.Contains(l, "get-env") {
			t.Errorf("control: server-everything's answer to tools/list %s: %.200s", p.list, l)
		}
	}
	in.Close()

	profile := writeProfile(t, grantRead(nm)+everythingProfile)
	s := startSession(t, cellCommand(t, profile, "node", server, "stdio"))
	s.send(initialize)
	s.reply("1")
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for _, p := range pairs {
		s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"tools/list"}`, p.list) + "\n" + fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"ping"}`, p.ping))
		seen := map[string]string{}
		for len(seen) < 2 {
			f := string(s.next())
			switch {
			case strings.HasPrefix(f, `{"jsonrpc":"2.0","id":`+p.list+`,`):
				seen["list"] = f
			case hasID(f, p.ping):
				seen["ping"] = f
			}
			if strings.Contains(f, "get-env") {
				t.Errorf("the hidden get-env reached the client: %.300s", f)
			}
		}
		if !strings.Contains(seen["list"], `"error":{"code":-32600`) || !strings.Contains(seen["ping"], `"result":{}`) {
			t.Errorf("ids %s and %s: %v", p.list, p.ping, seen)
		}
	}
	// A float id gets its answer, with its id as sent (server-everything
	// answers 29.0 as 29); so does an integer beyond 2^53-1 (which it
	// never answers).
	for _, id := range []string{"29.0", "2.9e1", "9007199254740993"} {
		s.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/list"}`)
		if f := string(s.next()); !strings.HasPrefix(f, `{"jsonrpc":"2.0","id":`+id+`,"error":`) {
			t.Errorf("id %s: %s", id, f)
		}
	}
	// The same list asked with a plain id is filtered.
	if r := s.call(30, "tools/list", `{}`); strings.Contains(fmt.Sprint(r), "get-env") || !strings.Contains(fmt.Sprint(r), "echo") {
		t.Errorf("tools/list 30: %v", r)
	}
}

// hasID reports whether the frame f has the id written as id.
func hasID(f, id string) bool {
	return strings.Contains(f, `"id":`+id+`,`) || strings.Contains(f, `"id":`+id+`}`)
}

// A tools/call sent without an id is a notification, and a naive server
// runs it all the same: it and every method that is not a notification
// the client sends in the session's protocol version are dropped, and
// audited once per method per second. The control: the notifications
// the version has reach the server, as the fake server's record shows.
func TestAttackClientNotifications(t *testing.T) {
	for _, c := range []struct {
		version, meta string
		want          string
	}{
		{"2025-06-18", "", "notifications/initialized,notifications/progress,notifications/initialized,notifications/cancelled"},
		{"2026-07-28", `,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`, "notifications/cancelled"},
	} {
		t.Run(c.version, func(t *testing.T) {
			const n = 200
			profile := writeProfile(t, fakeProfile)
			s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver", "--version="+c.version))
			if c.meta == "" {
				s.call(0, "initialize", `{"protocolVersion":"`+c.version+`","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
				s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			} else {
				s.call(0, "server/discover", `{`+c.meta[1:]+`}`)
			}
			start := time.Now()
			var b strings.Builder
			for i := 0; i < n; i++ {
				fmt.Fprintf(&b, `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"secret_admin","arguments":{}%s}}`+"\n", c.meta)
			}
			for _, m := range []string{"tools/call", "prompts/get", "notifications/x", "notifications/progress", "notifications/initialized", "notifications/cancelled"} {
				fmt.Fprintf(&b, `{"jsonrpc":"2.0","method":%q,"params":{"name":"echo","progressToken":"t","progress":1,"requestId":"none"%s}}`+"\n", m, c.meta)
			}
			s.send(strings.TrimSuffix(b.String(), "\n"))
			got := resultText(s.call(1, "tools/call", `{"name":"notified","arguments":{}`+c.meta+`}`))
			if got != c.want {
				t.Errorf("the server got the notifications %q, want %q", got, c.want)
			}
			finish(t, s)
			elapsed := time.Since(start)
			tallies := tallyKinds(auditRecords(t, profile))
			bound := 2 * (int(math.Ceil(elapsed.Seconds())) + 1)
			calls, _ := find(tallies, `^client-to-server\|notification\|drop\|client notifications\|tools/call$`)
			if calls.events != n+1 || calls.records > bound || calls.first == nil {
				t.Errorf("tools/call notifications: %d events in %d records, want %d in at most %d, the first in full", calls.events, calls.records, n+1, bound)
			}
			for _, m := range []string{"prompts/get", "notifications/x"} {
				if got, _ := find(tallies, `^client-to-server\|notification\|drop\|client notifications\|`+m+`$`); got.events != 1 {
					t.Errorf("%s: %d events recorded", m, got.events)
				}
			}
			if n := strings.Count(s.stderr.String(), `dropped the client's notification "tools/call"`); n < 1 || n > bound {
				t.Errorf("stderr names the dropped tools/call %d times, want 1 to %d", n, bound)
			}
		})
	}
}

// The neighbour the other way: a server that sends a request as a
// notification (elicitation/create without an id) reaches a naive client
// around [client]. The control: its notifications/message passes.
func TestAttackServerNotifications(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2025-11-25")
	if got := resultText(s.call(1, "tools/call", `{"name":"notify_requests","arguments":{}}`)); got != "notified" {
		t.Fatalf("notify_requests: %q", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var seen []string
	for _, f := range s.frames {
		var m struct{ Method string }
		json.Unmarshal(f, &m)
		if m.Method != "" {
			seen = append(seen, m.Method)
		}
	}
	if strings.Join(seen, ",") != "notifications/message" {
		t.Errorf("the client got the notifications %v, want only notifications/message", seen)
	}
}

// A server that looks tool names up folding case runs "SECRET_ADMIN" as
// secret_admin: before the first tools/list (when any name the profile
// allows may be called), a deny glob denies every spelling it matches,
// and a [tools.args] key constrains every spelling of its tools. The
// control: the same server runs ECHO as echo, and SECRET_ADMIN as
// secret_admin where nothing denies it.
func TestAttackFoldingServer(t *testing.T) {
	start := func(profile string) *session {
		s := startSession(t, cellCommand(t, writeProfile(t, profile), os.Args[0], "__fakeserver", "--fold-names"))
		s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
		return s
	}
	s := start(fakeProfile)
	for i, name := range []string{"SECRET_ADMIN", "Secret_Admin", "\u017fecret_admin"} {
		if code, msg := errorOf(s.call(10+i, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":{}}`, name))); code != -32602 || msg != "Unknown tool: "+name {
			t.Errorf("%s: %d %q, want Unknown tool", name, code, msg)
		}
	}
	if got := resultText(s.call(20, "tools/call", `{"name":"READ_FILE","arguments":{"path":"/etc/passwd"}}`)); !strings.Contains(got, "outside the allowed folders") {
		t.Errorf("READ_FILE /etc/passwd: %q, want the constraint of read_file", got)
	}
	if code, _ := errorOf(s.call(21, "prompts/get", `{"name":"INTERNAL_PROMPT"}`)); code != -32602 {
		t.Errorf("INTERNAL_PROMPT: code %d", code)
	}
	if got := resultText(s.call(22, "tools/call", `{"name":"ECHO","arguments":{}}`)); got != "echo:{}" {
		t.Errorf("control: ECHO ran as %q, want the server's echo", got)
	}
	open := start("")
	if got := resultText(open.call(1, "tools/call", `{"name":"SECRET_ADMIN","arguments":{}}`)); got != "secret_admin:{}" {
		t.Errorf("control: without a deny, SECRET_ADMIN ran as %q", got)
	}
}

// One request's _meta naming 2025-03-26 turned batches on in a session
// negotiated at 2025-06-18. The version is fixed by initialize: the
// request is refused, a second initialize too, and a batch after them is
// refused. The control: a session initialized at 2025-03-26 takes the
// same batch.
func TestAttackVersionMoves(t *testing.T) {
	batch := `[{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{}}}]`
	s := fakeSession(t, fakeProfile, "2025-06-18")
	if code, msg := errorOf(s.call(1, "tools/list", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-03-26"}}`)); code != -32600 || !strings.Contains(msg, "2025-06-18") {
		t.Errorf("_meta naming 2025-03-26: %d %q", code, msg)
	}
	if code, _ := errorOf(s.call(2, "initialize", `{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"test-client","version":"1"}}`)); code != -32600 {
		t.Errorf("a second initialize: code %d", code)
	}
	s.send(batch)
	for _, id := range []string{"7", "8"} {
		if code, msg := errorOf(s.reply(id)); code != -32600 || !strings.Contains(msg, "batches") {
			t.Errorf("a batch after the attempts, request %s: %d %q", id, code, msg)
		}
	}
	if got := resultText(s.call(3, "tools/call", `{"name":"echo","arguments":{}}`)); got != "echo:{}" {
		t.Errorf("the session after: %q", got)
	}

	// In a modern session the first answered request fixes the version;
	// another is refused as a server refuses a version it does not speak.
	m := fakeSession(t, fakeProfile, "2026-07-28")
	meta := func(v string) string {
		return `"_meta":{"io.modelcontextprotocol/protocolVersion":"` + v + `","io.modelcontextprotocol/clientCapabilities":{}}`
	}
	if r := m.call(1, "server/discover", `{`+meta("2026-07-28")+`}`); r["result"] == nil {
		t.Fatalf("discover: %v", r)
	}
	r := m.call(2, "tools/list", `{`+meta("2025-03-26")+`}`)
	if code, _ := errorOf(r); code != -32022 || !strings.Contains(fmt.Sprint(r), "supported:[2026-07-28]") {
		t.Errorf("2025-03-26 in a 2026-07-28 session: %v", r)
	}
	m.send(batch)
	for _, id := range []string{"7", "8"} {
		if code, _ := errorOf(m.reply(id)); code != -32600 {
			t.Errorf("a batch in a 2026-07-28 session, request %s: code %d", id, code)
		}
	}

	control := fakeSession(t, fakeProfile, "2025-03-26")
	control.send(batch)
	var replies []json.RawMessage
	if err := json.Unmarshal(control.next(), &replies); err != nil || len(replies) != 2 {
		t.Errorf("control: a 2025-03-26 session answers the batch with a batch: %v %s", err, replies)
	}
}

// A server that wants the user on its page answers a call with 2025-11-25's
// URL elicitation error (-32042, the page in data.elicitations) instead of
// sending elicitation/create, which [client] elicitation = false declines:
// the error reached the client untouched, audited as an allowed reply.
// Now mcpcell answers in its place with an error of its own, audited as
// denied, for the code in the spellings JavaScript and Python clients read
// as -32042, from tools/call and from tasks/result, and for a failed task
// in tasks/get. The control: a profile that allows elicitation passes the
// server's error as sent, and the client gets the page.
func TestAttackURLElicitationError(t *testing.T) {
	calls := []struct{ method, params string }{
		{"tools/call", `{"name":"url_elicit","arguments":{"code":-32042}}`},
		{"tools/call", `{"name":"url_elicit","arguments":{"code":-32042.0}}`},
		{"tools/call", `{"name":"url_elicit","arguments":{"code":-3.2042e4}}`},
		{"tools/call", `{"name":"url_elicit","arguments":{"code":"-32042"}}`},
		{"tasks/result", `{"taskId":"url"}`},
		{"tasks/get", `{"taskId":"url"}`},
	}
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("elicitation=%v", allow), func(t *testing.T) {
			profile := writeProfile(t, fmt.Sprintf("[client]\nelicitation = %v\n", allow))
			s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver", "--version=2025-11-25"))
			s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"form":{},"url":{}}},"clientInfo":{"name":"c","version":"1"}}`)
			for i, c := range calls {
				r := s.call(10+i, c.method, c.params)
				raw, _ := json.Marshal(r)
				page := strings.Contains(string(raw), "evil.example")
				if page != allow {
					t.Errorf("%s %s: the client got %s", c.method, c.params, raw)
				}
				if code, msg := errorOf(r); !allow && (code != -32603 || !strings.Contains(msg, "URL elicitation")) {
					t.Errorf("%s %s: %d %q, want mcpcell's -32603", c.method, c.params, code, msg)
				}
			}
			// The same server's ordinary answer passes either way.
			if got := resultText(s.call(30, "tools/call", `{"name":"echo","arguments":{}}`)); got != "echo:{}" {
				t.Errorf("echo after the attempts: %q", got)
			}
			finish(t, s)
			// Repeats of a kind are counted, not recorded one by one.
			denied, _ := find(tallyKinds(auditRecords(t, profile)), `^server-to-client\|response\|deny\|client\.elicitation = false\|`)
			if want := map[bool]int{false: len(calls), true: 0}[allow]; denied.events != want {
				t.Errorf("the audit log has %d replies denied under client.elicitation = false, want %d", denied.events, want)
			}
		})
	}
}
