package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// These tests attack the wire where a peer reads a frame otherwise than
// mcpcell did (its line ends) or where a refused frame's answer could go
// missing or astray (an id written last, a batch, the two id spaces),
// with real readers and SDKs on the other side and a control each.

// lineEnds are the characters some line reader ends a line at, with a
// name for each: Python's universal newlines and Node's readline end one
// at \r; str.splitlines (not a stdio reader) at the others too.
var lineEnds = []struct{ name, sep string }{
	{"cr", "\r"}, {"vt", "\v"}, {"ff", "\f"}, {"fs", "\x1c"}, {"gs", "\x1d"}, {"rs", "\x1e"},
	{"nel", "\u0085"}, {"ls", "\u2028"}, {"ps", "\u2029"},
}

// smuggle is a ping whose params hold a call of the hidden tool between
// two seps: one ping to a reader that takes sep for white space, the
// call on a line of its own to one that ends a line there.
func smuggle(id int, sep, tool string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping","params":{"_x":%s{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{}}}%s}}`, id, sep, id, tool, sep)
}

// A bare \r between a ping's tokens hid a call of a denied tool from
// mcpcell, which read one ping and forwarded it byte for byte, while a
// server reading stdin as the Python SDK does (TextIOWrapper, universal
// newlines) or with Node's readline ran the call. Now a frame with a \r
// anywhere but before its newline is refused with its id, and the other
// characters some reader ends a line at are refused by strict decoding.
// The control: each server, reached directly, runs the \r smuggle (and
// no other: no stdio reader ends a line elsewhere); through mcpcell the
// same frame with spaces is a ping, and a frame ending in \r\n passes.
func TestAttackCarriageReturnSmuggle(t *testing.T) {
	nodeModules(t)
	_, err := os.Stat("/usr/bin/python3")
	need(t, "/usr/bin/python3", err == nil)
	for _, server := range []struct{ name, interp, script string }{
		{"python", "/usr/bin/python3", "testdata/lineserver.py"},
		{"node", "node", "testdata/lineserver.mjs"},
	} {
		t.Run(server.name, func(t *testing.T) {
			script, _ := filepath.Abs(server.script)
			initialize := `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`

			direct := startSession(t, exec.Command(server.interp, script))
			direct.call(0, "initialize", initialize)
			for i, le := range lineEnds {
				direct.send(smuggle(10+i, le.sep, "delete_all_"+le.name))
			}
			if got := resultText(direct.call(99, "tools/call", `{"name":"ran","arguments":{}}`)); got != "delete_all_cr,ran" {
				t.Errorf("control: reached directly, the server ran %q, want delete_all_cr,ran", got)
			}

			profile := writeProfile(t, grantRead(filepath.Dir(script))+"[tools]\ndeny = [\"delete_all*\"]\n")
			s := startSession(t, cellCommand(t, profile, server.interp, script))
			if r := s.call(0, "initialize", initialize); r["result"] == nil {
				t.Fatalf("initialize: %v", r)
			}
			if code, msg := errorOf(s.call(1, "tools/call", `{"name":"delete_all","arguments":{}}`)); code != -32602 || msg != "Unknown tool: delete_all" {
				t.Errorf("control: a plain call of delete_all: %d %q", code, msg)
			}
			s.send(smuggle(2, " ", "delete_all_sp"))
			if r := s.reply("2"); fmt.Sprint(r["result"]) != "map[]" {
				t.Errorf("control: the smuggle with spaces is one ping: %v", r)
			}
			s.send(`{"jsonrpc":"2.0","id":3,"method":"ping"}` + "\r")
			if r := s.reply("3"); r["result"] == nil {
				t.Errorf("a frame ending in \\r\\n: %v", r)
			}
			for i, le := range lineEnds {
				id := 10 + i
				s.send(smuggle(id, le.sep, "delete_all_"+le.name))
				if code, _ := errorOf(s.reply(fmt.Sprint(id))); code != -32700 {
					t.Errorf("the smuggle with %s: code %d, want -32700 under its id", le.name, code)
				}
			}
			// The \r anywhere else in a frame, and the id after it.
			for i, f := range []string{
				`{"jsonrpc":"2.0",` + "\r" + `"id":20,"method":"ping"}`,
				`{"method":"ping","params":{"_x":` + "\r" + `1},"jsonrpc":"2.0","id":21}`,
				`{"jsonrpc":"2.0","id":22,"method":"ping"}` + "\r" + `{"jsonrpc":"2.0","id":22,"method":"tools/call","params":{"name":"delete_all_tail","arguments":{}}}`,
			} {
				s.send(f)
				if code, _ := errorOf(s.reply(fmt.Sprint(20 + i))); code != -32700 {
					t.Errorf("%q: code %d, want -32700", f, code)
				}
			}
			if got := resultText(s.call(99, "tools/call", `{"name":"ran","arguments":{}}`)); got != "ran" {
				t.Errorf("through mcpcell the server ran %q, want only ran", got)
			}
		})
	}
}

// The other way: a server's notification whose data holds, between two
// \r, a sampling request the profile denies reached the client byte for
// byte, and a client reading with Node's readline read the request on a
// line of its own. Now the notification is dropped. The control: the
// same frames, read by the same reader straight from the server, hold
// the request (at \r only: the others are no JSON to it), and the
// notification with spaces reaches the client.
func TestAttackCarriageReturnToClient(t *testing.T) {
	nodeModules(t)
	reader, _ := filepath.Abs("testdata/readlines.mjs")
	methods := func(stream string) string {
		t.Helper()
		cmd := exec.Command("node", reader)
		cmd.Stdin = strings.NewReader(stream)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("readlines.mjs: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	note := func(sep, data string) string {
		return `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":` + sep + data + sep + `}}`
	}
	var frames []string
	for _, le := range lineEnds {
		frames = append(frames, note(le.sep, `{"jsonrpc":"2.0","id":"x-`+le.name+`","method":"sampling/createMessage","params":{"messages":[],"maxTokens":1}}`))
	}
	if got := methods(strings.Join(frames, "\n") + "\n"); got != "sampling/createMessage" {
		t.Errorf("control: Node's readline read the server's frames as %q", got)
	}
	frames = append(frames, note(" ", `"plain"`))
	args, _ := json.Marshal(map[string]any{"frames": frames, "answer": true})
	s := fakeSession(t, "[client]\nsampling = false\n", "2025-11-25")
	if got := resultText(s.call(1, "tools/call", `{"name":"raw","arguments":`+string(args)+`}`)); got != "said" {
		t.Fatalf("raw: %q", got)
	}
	s.mu.Lock()
	stream := ""
	for _, f := range s.frames {
		stream += string(f) + "\n"
	}
	s.mu.Unlock()
	if got := methods(stream); got != "notifications/message" {
		t.Errorf("a readline client of mcpcell read the methods %q, want only the plain notifications/message", got)
	}
}

// An honest TypeScript SDK server writes a response as {result, jsonrpc,
// id}; a result that strict decoding refuses (structuredContent holding
// Set-Cookie and set-cookie) was refused with no id found, and the
// client's call hung until its own timeout. Now the id is found wherever
// it is written and the call fails at once. The controls: the same call
// straight to the server succeeds, and a result without the repeated
// header passes mcpcell.
func TestAttackServerIDWrittenLast(t *testing.T) {
	nm := nodeModules(t)
	server, _ := filepath.Abs("testdata/headerserver.mjs")
	profile := writeProfile(t, grantRead(filepath.Dir(server), nm))
	call := func(sess *mcp.ClientSession, tool string) (*mcp.CallToolResult, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return sess.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}})
	}

	t.Run("go-sdk", func(t *testing.T) {
		_, direct, _ := connectSDK(t, exec.Command("node", server), nil, "")
		if res, err := call(direct, "fetch_headers"); err != nil || !strings.Contains(fmt.Sprint(res.StructuredContent), "set-cookie") {
			t.Errorf("control: the call straight to the server: %v %v", res, err)
		}
		_, sess, _ := connectSDK(t, cellCommand(t, profile, "node", server), nil, "")
		if res, err := call(sess, "fetch_headers_plain"); err != nil || textOf(res) != "headers attached" {
			t.Errorf("control: fetch_headers_plain through mcpcell: %v %v", res, err)
		}
		_, err := call(sess, "fetch_headers")
		if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "invalid response") {
			t.Errorf("fetch_headers through mcpcell: %v, want the server's invalid response at once", err)
		}
	})

	t.Run("ts-sdk", func(t *testing.T) {
		cell := cellCommand(t, profile, "node", server)
		if got := tsCall(t, cell, "fetch_headers_plain", `{}`); !strings.Contains(got, `"result"`) {
			t.Errorf("control: fetch_headers_plain: %s", got)
		}
		if got := tsCall(t, cell, "fetch_headers", `{}`); !strings.Contains(got, "-32603") || !strings.Contains(got, "invalid response") {
			t.Errorf("fetch_headers: %s, want -32603 at once", got)
		}
	})
}

// tsCall calls tool with args (JSON) in a server started as cell's
// command line, through the TypeScript SDK client (tsclient.mjs), and
// returns what it wrote: {"result": …} or {"error": …}.
func tsCall(t *testing.T, cell *exec.Cmd, tool, args string) string {
	t.Helper()
	client, _ := filepath.Abs("testdata/tsclient.mjs")
	cmd := exec.Command("node", append([]string{client, tool, args}, cell.Args...)...)
	cmd.Env = cell.Env
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tsclient.mjs: %v\n%s", err, stderr.String())
	}
	if strings.Contains(string(out), "timed out") {
		t.Logf("stderr:\n%s", stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// The TypeScript SDK client writes a request as {method, params,
// jsonrpc, id}: a call whose arguments strict decoding refuses (Lang and
// lang) got no answer and ran into the client's timeout. Now it gets
// -32700 at once. The control: the same call with one spelling passes.
func TestAttackClientIDWrittenLast(t *testing.T) {
	nodeModules(t)
	cell := cellCommand(t, writeProfile(t, ""), os.Args[0], "__fakeserver")
	if got := tsCall(t, cell, "echo", `{"message":"hi","meta":{"Lang":"en"}}`); !strings.Contains(got, `"result"`) || !strings.Contains(got, `Lang`) {
		t.Errorf("control: one spelling: %s", got)
	}
	if got := tsCall(t, cell, "echo", `{"message":"hi","meta":{"Lang":"en","lang":"de"}}`); !strings.Contains(got, "-32700") || !strings.Contains(got, "differ") {
		t.Errorf("two spellings: %s, want -32700 at once", got)
	}
}

// A response over max_frame whose id comes after its large part (as the
// TypeScript SDK writes it) left the call unanswered: only the frame's
// first 4 KiB were kept to find the id. Now the whole frame is read for
// it as it streams past. With the fake server (the id last, first and
// between large members) and with server-filesystem reading a file over
// the bound; the controls: a small file, and the id first.
func TestAttackOversizeIDWrittenLast(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		s := fakeSession(t, "[limits]\nmax_frame = 65536\n", "2025-11-25")
		for i, f := range []string{
			`{"result":{"content":[{"type":"text","text":"$PAD"}]},"jsonrpc":"2.0","id":$ID}`,
			`{"jsonrpc":"2.0","id":$ID,"result":{"content":[{"type":"text","text":"$PAD"}]}}`,
			`{"result":{"content":[{"type":"text","text":"$PAD"}]},"id":$ID,"jsonrpc":"2.0","_x":"$PAD"}`,
		} {
			args, _ := json.Marshal(map[string]any{"frames": []string{f}})
			r := s.call(10+i, "tools/call", `{"name":"raw","arguments":`+string(args)+`}`)
			if code, msg := errorOf(r); code != -32603 || !strings.Contains(msg, "bound") {
				t.Errorf("%.60s…: %v, want -32603 naming the bound", f, r)
			}
		}
	})
	t.Run("server-filesystem", func(t *testing.T) {
		nm := nodeModules(t)
		fs := filepath.Join(nm, "@modelcontextprotocol/server-filesystem/dist/index.js")
		profile := writeProfile(t, grantRead(nm)+"[limits]\nmax_frame = 1048576\n")
		project := filepath.Dir(profile)
		os.WriteFile(filepath.Join(project, "big.txt"), []byte(strings.Repeat("a", 1200000)), 0o644)
		os.WriteFile(filepath.Join(project, "small.txt"), []byte("small"), 0o644)
		c := startSession(t, cellCommand(t, profile, "node", fs, project))
		if r := c.call(0, "initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`); r["result"] == nil {
			t.Fatalf("initialize: %v", r)
		}
		c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		read := func(id int, file string) map[string]any {
			return c.call(id, "tools/call", fmt.Sprintf(`{"name":"read_text_file","arguments":{"path":%q}}`, filepath.Join(project, file)))
		}
		if got := resultText(read(1, "small.txt")); got != "small" {
			t.Errorf("control: small.txt: %q", got)
		}
		if code, msg := errorOf(read(2, "big.txt")); code != -32603 || !strings.Contains(msg, "bound") {
			t.Errorf("big.txt: %d %q, want -32603 naming the bound", code, msg)
		}
	})
}

// A 2025-03-26 batch with one element strict decoding refuses (the id
// written last, as the TypeScript SDK does) was refused whole with id
// null: its valid requests were never answered. Now the other elements
// go on and the bad one is answered under its id; a batch no parser can
// split has each request it names answered. Every request is answered
// exactly once. The control: the batch without the bad element.
func TestAttackBatchOneBadElement(t *testing.T) {
	s := fakeSession(t, "", "2025-03-26")
	ping := func(id int) string { return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, id) }
	echo := func(id int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{}}}`, id)
	}
	bad := func(id int) string {
		return fmt.Sprintf(`{"method":"tools/call","params":{"name":"echo","arguments":{"A":1,"a":2}},"jsonrpc":"2.0","id":%d}`, id)
	}
	for i, c := range []struct {
		batch string
		want  map[string]string // id: "result" or the error code
	}{
		{"[" + ping(1) + "," + echo(2) + "]", map[string]string{"1": "result", "2": "result"}},
		{"[" + ping(3) + "," + bad(4) + "," + echo(5) + "]", map[string]string{"3": "result", "4": "-32700", "5": "result"}},
		{"[" + bad(6) + "," + bad(7) + "]", map[string]string{"6": "-32700", "7": "-32700"}},
		{"[" + ping(8) + "," + echo(9) + "," + `{"jsonrpc":"2.0","id":10,"method":"ping"`, map[string]string{"8": "-32700", "9": "-32700", "10": "-32700"}},
	} {
		s.send(c.batch)
		// A ping after the batch is answered after every answer to it.
		sentinel := fmt.Sprint(100 + i)
		s.send(ping(100 + i))
		got := map[string][]string{}
		for done := false; !done; {
			f := s.next()
			var msgs []map[string]any
			if json.Unmarshal(f, &msgs) != nil {
				var m map[string]any
				if err := json.Unmarshal(f, &m); err != nil {
					t.Fatalf("a frame that is not JSON: %s", f)
				}
				msgs = []map[string]any{m}
			}
			for _, m := range msgs {
				id := fmt.Sprint(m["id"])
				what := "result"
				if code, _ := errorOf(m); code != 0 {
					what = fmt.Sprint(code)
				}
				if id == sentinel && what == "result" {
					done = true
					continue
				}
				got[id] = append(got[id], what)
			}
		}
		for id, want := range c.want {
			if len(got[id]) != 1 || got[id][0] != want {
				t.Errorf("%.80s…: request %s answered %v, want once with %s", c.batch, id, got[id], want)
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%.80s…: answers %v, want %v", c.batch, got, c.want)
		}
	}
}

// The server sends roots/list under the id of the client's pending
// tools/call, and the client's answer fails strict decoding: mcpcell
// answered the client under that id, which ended the client's own call,
// and the real result came too: two responses to one request. Now a
// refused response fails the request it answers, the server's, and a
// refused response that answers nothing is dropped, never landing on a
// request of its sender's. The control: a valid answer reaches the
// server.
func TestAttackClientAnswerIDSpace(t *testing.T) {
	s := fakeSession(t, "[client]\nroots = true\n", "2025-11-25")
	askRoots := func(id int, serverID string) {
		args, _ := json.Marshal(map[string]any{"frame": `{"jsonrpc":"2.0","id":` + serverID + `,"method":"roots/list"}`})
		s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"ask_same_id","arguments":%s}}`, id, args))
		for {
			var m struct{ Method string }
			json.Unmarshal(s.next(), &m)
			if m.Method == "roots/list" {
				return
			}
		}
	}
	answers := func(id string, ping int) []map[string]any { return responses(s, id, ping) }
	for i, c := range []struct{ answer, want string }{
		{`{"jsonrpc":"2.0","id":$ID,"result":{"roots":[{"uri":"file:///tmp/x","name":"a"}]}}`, `answer:{"jsonrpc":"2.0","id":$ID,"result":{"roots"`},
		{`{"jsonrpc":"2.0","id":$ID,"result":{"roots":[{"uri":"file:///tmp/x","name":"a","Name":"b"}]}}`, `answer:{"jsonrpc":"2.0","id":$ID,"error":{"code":-32603`},
		{`{"result":{"roots":[{"uri":"file:///tmp/x","name":"a","Name":"b"}]},"jsonrpc":"2.0","id":$ID}`, `answer:{"jsonrpc":"2.0","id":$ID,"error":{"code":-32603`},
		{`{"jsonrpc":"2.0","id":$ID,"result":{"roots":[]},"x":1}`, `answer:{"jsonrpc":"2.0","id":$ID,"error":{"code":-32603`},
	} {
		id := fmt.Sprint(10 + i)
		askRoots(10+i, id)
		s.send(strings.ReplaceAll(c.answer, "$ID", id))
		want := strings.ReplaceAll(c.want, "$ID", id)
		if r := s.reply(id); !strings.HasPrefix(resultText(r), want) {
			// (The server, unanswered, would wait for ever.)
			t.Fatalf("answer %s: the client's call %s got %v, want the result %s…", c.answer, id, r, want)
		}
		if got := answers(id, 100+i); len(got) != 1 {
			t.Errorf("answer %s: the client's call %s got %d responses, want one: %v", c.answer, id, len(got), got)
		}
	}
	// A refused answer to no request of the server's, under the id of the
	// client's pending call, is dropped; the call ends as the server ends
	// it.
	askRoots(20, `"s1"`)
	s.send(`{"result":{"roots":[],"ROOTS":[]},"jsonrpc":"2.0","id":20}`)
	s.send(`{"jsonrpc":"2.0","id":"s1","result":{"roots":[]}}`)
	if r := s.reply("20"); !strings.HasPrefix(resultText(r), `answer:{"jsonrpc":"2.0","id":"s1","result"`) {
		t.Fatalf("a refused answer under the client's own id 20: the call got %v, want the result with the server's answer", r)
	}
	if got := answers("20", 120); len(got) != 1 {
		t.Errorf("a refused answer under the client's own id 20: %d responses, want one: %v", len(got), got)
	}
}

// A server request that fails strict decoding, sent under the id of the
// client's pending call, failed that call and was not answered to the
// server. Now it is answered to the server (-32700) and the client's
// call ends as the server ends it. With the id first and last, raw and
// with the official Go SDK client (whose call failed with "the server
// sent an invalid response"). The control: a valid elicitation reaches
// the client.
func TestAttackServerRequestIDSpace(t *testing.T) {
	form := func(props string) string {
		return `{"message":"m","requestedSchema":{"type":"object","properties":{` + props + `}}}`
	}
	bad := form(`"Name":{"type":"string"},"name":{"type":"string"}`)
	frames := []string{
		`{"jsonrpc":"2.0","id":$ID,"method":"elicitation/create","params":` + bad + `}`,
		`{"method":"elicitation/create","params":` + bad + `,"jsonrpc":"2.0","id":$ID}`,
		`{"method":"elicitation/create","params":` + form(`"name":{"type":"string"}`) + `,"jsonrpc":"2.0","id":$ID,"x":1}`,
	}
	ask := func(frame string) string {
		b, _ := json.Marshal(map[string]any{"frame": frame})
		return string(b)
	}
	s := fakeSession(t, "[client]\nelicitation = true\n", "2025-11-25")
	for i, f := range frames {
		id := 10 + i
		r := s.call(id, "tools/call", `{"name":"ask_same_id","arguments":`+ask(f)+`}`)
		want := fmt.Sprintf(`answer:{"jsonrpc":"2.0","id":%d,"error":{"code":-32`, id)
		if got := resultText(r); !strings.HasPrefix(got, want) {
			// (The server, unanswered, would wait for ever.)
			t.Fatalf("%s: the client's call got %v, want the server's answer %s…", f, r, want)
		}
		s.mu.Lock()
		for _, fr := range s.frames {
			if strings.Contains(string(fr), "elicitation/create") {
				t.Errorf("%s reached the client: %s", f, fr)
			}
		}
		s.mu.Unlock()
		if got := responses(s, fmt.Sprint(id), 100+i); len(got) != 1 {
			t.Errorf("%s: the client's call %d got %d responses, want one: %v", f, id, len(got), got)
		}
	}

	var ran atomic.Int32
	ctx, sess, _ := connectSDK(t, cellCommand(t, writeProfile(t, "[client]\nelicitation = true\n"), os.Args[0], "__fakeserver"), &mcp.ClientOptions{
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			ran.Add(1)
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
	}, "")
	for i, f := range append([]string{`{"jsonrpc":"2.0","id":$ID,"method":"elicitation/create","params":` + form(`"name":{"type":"string"}`) + `}`}, frames...) {
		res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "ask_same_id", Arguments: map[string]any{"frame": f}})
		if err != nil {
			t.Errorf("go-sdk, %s: the call failed: %v", f, err)
			continue
		}
		want := `"error":{"code":-32` // mcpcell's answer to the server
		if i == 0 {
			want = `"result":{"action":"decline"}` // the control: the client's
		}
		if got := textOf(res); !strings.HasPrefix(got, "answer:") || !strings.Contains(got, want) {
			t.Errorf("go-sdk, %s: the call got %q, want the server's answer with %s", f, got, want)
		}
	}
	if ran.Load() != 1 {
		t.Errorf("the client's elicitation handler ran %d times, want once (the valid form)", ran.Load())
	}
}

// responses returns the responses under id (a JSON literal) among the
// frames s has read since the last call (or its start), up to the answer
// of a ping sent now, which comes after any the server sent first.
func responses(s *session, id string, ping int) []map[string]any {
	s.t.Helper()
	s.call(ping, "ping", "{}")
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, f := range s.frames {
		var m map[string]any
		json.Unmarshal(f, &m)
		if b, _ := json.Marshal(m["id"]); string(b) == id && m["method"] == nil {
			out = append(out, m)
		}
	}
	s.frames = nil
	return out
}
