package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fakeProfile = `
[tools]
deny = ["secret_*"]
[tools.args.read_file]
path = { within = ["${PROJECT}"] }
[tools.args.echo]
mode = { enum = ["a", "b"] }
text = { max_len = 10 }
code = { match = "[a-z]+" }

[resources]
allow = ["file:///proj/**"]

[prompts]
deny = ["internal_*"]

[client]
sampling = false
elicitation = false
roots = false

[limits]
max_frame = 65536
`

// projectOf is the project folder of a session: its profile's folder.
func projectOf(s *session) string {
	for i, a := range s.cmd.Args {
		if a == "--profile" && i+1 < len(s.cmd.Args) {
			return filepath.Dir(s.cmd.Args[i+1])
		}
	}
	return ""
}

// fakeSession starts mcpcell over the fake server and initializes with
// protocol version v.
func fakeSession(t *testing.T, profile, v string) *session {
	t.Helper()
	path := writeProfile(t, profile)
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver", "--version="+v))
	if v < "2026-07-28" {
		r := s.call(0, "initialize", fmt.Sprintf(`{"protocolVersion":%q,"capabilities":{"sampling":{},"elicitation":{},"roots":{"listChanged":true}},"clientInfo":{"name":"test-client","version":"1"}}`, v))
		if r["result"] == nil {
			t.Fatalf("initialize failed: %v", r)
		}
		s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	}
	return s
}

func TestToolPolicy(t *testing.T) {
	for _, v := range []string{"2024-11-05", "2025-06-18", "2025-11-25"} {
		t.Run(v, func(t *testing.T) {
			s := fakeSession(t, fakeProfile, v)
			// The list is filtered on both pages, and the cursor still works.
			var names []string
			cursor := ""
			for id := 1; ; id++ {
				params := `{}`
				if cursor != "" {
					params = fmt.Sprintf(`{"cursor":%q}`, cursor)
				}
				r := s.call(id, "tools/list", params)
				res := r["result"].(map[string]any)
				for _, tl := range res["tools"].([]any) {
					names = append(names, tl.(map[string]any)["name"].(string))
				}
				c, _ := res["nextCursor"].(string)
				if c == "" {
					break
				}
				cursor = c
			}
			if strings.Contains(strings.Join(names, ","), "secret_admin") || len(names) != 26 {
				t.Errorf("tools/list through mcpcell = %v; want 26 tools without secret_admin", names)
			}
			// A hidden tool is unknown, and the server never hears of it.
			code, msg := errorOf(s.call(10, "tools/call", `{"name":"secret_admin","arguments":{}}`))
			if code != -32602 || msg != "Unknown tool: secret_admin" {
				t.Errorf("hidden tool: got %d %q, want -32602 \"Unknown tool: secret_admin\"", code, msg)
			}
			// A name the server never listed is unknown once tools were listed.
			if code, msg := errorOf(s.call(12, "tools/call", `{"name":"debug_backdoor","arguments":{}}`)); code != -32602 || msg != "Unknown tool: debug_backdoor" {
				t.Errorf("unlisted tool: got %d %q", code, msg)
			}
			if got := resultText(s.call(11, "tools/call", `{"name":"echo","arguments":{"mode":"a","text":"short","code":"abc"}}`)); got != `echo:{"mode":"a","text":"short","code":"abc"}` {
				t.Errorf("allowed call: got %q", got)
			}
			// Argument constraints.
			for i, c := range []struct{ args, want string }{
				{`{"name":"read_file","arguments":{"path":"../outside.txt"}}`, `argument "path" of tool "read_file" is a relative path`},
				{`{"name":"read_file","arguments":{"path":"sub/../inside.txt"}}`, `is a relative path`},
				{`{"name":"read_file","arguments":{"path":"/etc/passwd"}}`, `is outside the allowed folders`},
				{`{"name":"read_file","arguments":{"path":"~/.ssh/id_rsa"}}`, `starts with ~`},
				{`{"name":"read_file","arguments":{"path":7}}`, `must be a string`},
				{`{"name":"echo","arguments":{"mode":"c"}}`, `is not one of the allowed values (enum)`},
				{`{"name":"echo","arguments":{"text":"far too long for this"}}`, `longer than 10 characters (max_len)`},
				{`{"name":"echo","arguments":{"code":"ABC"}}`, `does not match "[a-z]+" (match)`},
			} {
				r := s.call(20+i, "tools/call", c.args)
				if v < "2025-11-25" {
					if code, msg := errorOf(r); code != -32602 || !strings.Contains(msg, c.want) {
						t.Errorf("%s: got %d %q, want -32602 containing %q", c.args, code, msg, c.want)
					}
					continue
				}
				res, _ := r["result"].(map[string]any)
				if res["isError"] != true || !strings.Contains(resultText(r), c.want) {
					t.Errorf("%s: got %v, want an isError result containing %q", c.args, r, c.want)
				}
			}
			inside := fmt.Sprintf(`{"name":"read_file","arguments":{"path":%q}}`, filepath.Join(projectOf(s), "sub/../inside.txt"))
			if got := resultText(s.call(40, "tools/call", inside)); !strings.HasPrefix(got, "read_file:") {
				t.Errorf("a path inside the project was refused: %q", got)
			}
		})
	}
}

func TestResourcesPromptsCompletion(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2025-11-25")
	r := s.call(1, "resources/list", `{}`)
	// The server lists URIs that read as /etc/shadow and /etc/group too.
	if b, _ := json.Marshal(r["result"]); strings.Contains(string(b), "etc") || !strings.Contains(string(b), "file:///proj/a.txt") {
		t.Errorf("resources/list = %s; want only file:///proj/a.txt", b)
	}
	r = s.call(2, "resources/templates/list", `{}`)
	if b, _ := json.Marshal(r["result"]); strings.Contains(string(b), "db://") || !strings.Contains(string(b), "file:///proj/{name}") {
		t.Errorf("resources/templates/list = %s", b)
	}
	if code, msg := errorOf(s.call(3, "resources/read", `{"uri":"file:///etc/passwd"}`)); code != -32002 || msg != "Resource not found: file:///etc/passwd" {
		t.Errorf("denied read: %d %q", code, msg)
	}
	if code, _ := errorOf(s.call(4, "resources/subscribe", `{"uri":"file:///etc/shadow"}`)); code != -32002 {
		t.Errorf("denied subscribe: code %d", code)
	}
	if r := s.call(5, "resources/read", `{"uri":"file:///proj/a.txt"}`); r["result"] == nil {
		t.Errorf("allowed read refused: %v", r)
	}
	r = s.call(6, "prompts/list", `{}`)
	if b, _ := json.Marshal(r["result"]); strings.Contains(string(b), "internal_prompt") || !strings.Contains(string(b), "greet") {
		t.Errorf("prompts/list = %s", b)
	}
	if code, msg := errorOf(s.call(7, "prompts/get", `{"name":"internal_prompt"}`)); code != -32602 || msg != "Unknown prompt: internal_prompt" {
		t.Errorf("hidden prompt: %d %q", code, msg)
	}
	if code, _ := errorOf(s.call(8, "completion/complete", `{"ref":{"type":"ref/prompt","name":"internal_prompt"},"argument":{"name":"a","value":""}}`)); code != -32602 {
		t.Errorf("completion on a hidden prompt: code %d", code)
	}
	if code, _ := errorOf(s.call(9, "completion/complete", `{"ref":{"type":"ref/resource","uri":"db://{table}"},"argument":{"name":"a","value":""}}`)); code != -32002 {
		t.Errorf("completion on a hidden resource template: code %d", code)
	}
	if r := s.call(10, "completion/complete", `{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"a","value":""}}`); r["result"] == nil {
		t.Errorf("completion on an allowed prompt refused: %v", r)
	}
	if code, _ := errorOf(s.call(11, "tools/secret_backdoor", `{}`)); code != -32601 {
		t.Errorf("unknown method: code %d, want -32601", code)
	}
}

func TestServerRequestsToClient(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2025-11-25")
	// The denied capabilities never reach the server.
	init := resultText(s.call(1, "tools/call", `{"name":"last_init","arguments":{}}`))
	if strings.Contains(init, "sampling") || strings.Contains(init, "elicitation") || strings.Contains(init, "roots") || !strings.Contains(init, "test-client") {
		t.Errorf("initialize as the server saw it: %s", init)
	}
	for i, c := range []struct{ tool, want string }{
		{"sample", `"code":-1`},
		{"elicit", `"result":{"action":"decline"}`},
		{"roots", `"code":-32601`},
	} {
		got := resultText(s.call(2+i, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":{}}`, c.tool)))
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: the server got %s, want it to contain %s", c.tool, got, c.want)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.frames {
		if strings.Contains(string(f), `"method":"sampling/`) || strings.Contains(string(f), `"method":"elicitation/`) || strings.Contains(string(f), `"method":"roots/`) {
			t.Errorf("a denied request reached the client: %s", f)
		}
	}
}

func TestServerRequestsAllowed(t *testing.T) {
	s := fakeSession(t, "[client]\nsampling = true\nelicitation = true\nroots = true\n", "2025-11-25")
	s.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"elicit","arguments":{}}}`)
	req := s.next()
	var m map[string]any
	json.Unmarshal(req, &m)
	if m["method"] != "elicitation/create" {
		t.Fatalf("want the elicitation request at the client, got %s", req)
	}
	id, _ := json.Marshal(m["id"])
	s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"action":"accept","content":{"n":"x"}}}`, id))
	if got := resultText(s.reply("1")); !strings.Contains(got, `"accept"`) {
		t.Errorf("the server got %s", got)
	}
}

func TestStrictDecoding(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2025-11-25")
	for i, c := range []struct {
		frame string
		id    string
		code  int
	}{
		// The policy and the server would read these two ways.
		{`{"jsonrpc":"2.0","id":101,"method":"tools/call","params":{"name":"secret_admin","name":"echo"}}`, "101", -32700},
		{`{"jsonrpc":"2.0","id":102,"method":"tools/call","params":{"name":"echo","Name":"secret_admin"}}`, "102", -32700},
		{`{"jsonrpc":"2.0","id":103,"method":"tools/call","params":{"name":"echo","arguments":{"a":1,"a":2}}}`, "103", -32700},
		{"{\"jsonrpc\":\"2.0\",\"id\":104,\"method\":\"tools/call\",\"params\":{\"name\":\"ech\xffo\"}}", "104", -32700},
		{`{"jsonrpc":"2.0","id":105,"method":"tools/call","params":{"name":"secret_\ud800admin"}}`, "105", -32700},
		{`{"jsonrpc":"2.0","id":106,"method":"ping"} {"x":1}`, "106", -32700},
		{`{"jsonrpc":"2.0","id":107,"method":"ping","Method":"tools/call"}`, "107", -32700},
		{`{"jsonrpc":"2.0","id":108,"method":"ping","extra":1}`, "108", -32600},
		{`{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, "1.5", -32600},
		{`[{"jsonrpc":"2.0","id":109,"method":"ping"}]`, "109", -32600}, // no batches: each request answered
		{`"just a string"`, "null", -32600},
		{`{"jsonrpc":"2.0","id":110,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` + strings.Repeat("y", 70000) + `"}}}`, "110", -32600},
	} {
		s.send(c.frame)
		r := s.reply(c.id)
		if code, msg := errorOf(r); code != c.code {
			t.Errorf("case %d: got %d %q, want %d", i, code, msg, c.code)
		}
	}
	// The session still works, and every refused call stayed away from the server.
	if got := resultText(s.call(200, "tools/call", `{"name":"echo","arguments":{}}`)); got != "echo:{}" {
		t.Errorf("after refusals: %q", got)
	}
	// An escaped name is the same name to everyone: still hidden.
	if code, _ := errorOf(s.call(201, "tools/call", `{"name":"secret\u005fadmin"}`)); code != -32602 {
		t.Errorf("escaped hidden name: code %d", code)
	}
}

func TestHostileServer(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2025-11-25")
	if got := resultText(s.call(1, "tools/call", `{"name":"unknown_id","arguments":{}}`)); got != "after unknown id" {
		t.Errorf("unknown_id: %q", got)
	}
	if code, msg := errorOf(s.call(2, "tools/call", `{"name":"dup_keys","arguments":{}}`)); code != -32603 || !strings.Contains(msg, "invalid response") {
		t.Errorf("dup_keys: got %d %q; want -32603 invalid response", code, msg)
	}
	if code, msg := errorOf(s.call(3, "tools/call", `{"name":"oversize","arguments":{}}`)); code != -32603 || !strings.Contains(msg, "larger than") {
		t.Errorf("oversize: got %d %q", code, msg)
	}
	if got := resultText(s.call(4, "tools/call", `{"name":"non_json","arguments":{}}`)); got != "after log line" {
		t.Errorf("non_json: %q", got)
	}
	if got := resultText(s.call(5, "tools/call", `{"name":"flood","arguments":{}}`)); got != "flood done" {
		t.Errorf("flood: %q", got)
	}
	if got := resultText(s.call(6, "tools/call", `{"name":"stderr","arguments":{}}`)); got != "wrote stderr" {
		t.Errorf("stderr: %q", got)
	}
	// Two requests in flight; the server dies: each gets exactly one answer.
	s.send(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"die","arguments":{}}}`)
	if code, msg := errorOf(s.reply("7")); code != -32603 || !strings.Contains(msg, "exited") {
		t.Errorf("die: %d %q", code, msg)
	}
	s.mu.Lock()
	frames := s.frames
	s.mu.Unlock()
	progress := 0
	for _, f := range frames {
		if strings.Contains(string(f), "never-asked") || strings.Contains(string(f), "smuggled") || strings.Contains(string(f), "Server listening") {
			t.Errorf("forwarded to the client: %.200s", f)
		}
		if strings.Contains(string(f), "notifications/progress") {
			progress++
		}
	}
	if progress != 2000 {
		t.Errorf("flood: %d progress notifications reached the client, want 2000", progress)
	}
	for _, want := range []string{"Server listening", "fake server: a line on stderr", "never-asked"} {
		waitFor(t, s, want)
	}
	if err := s.cmd.Wait(); err == nil || s.cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("mcpcell exit: %v; want the server's status 3", err)
	}
}

func TestUnknownResponseFromClient(t *testing.T) {
	s := fakeSession(t, "[client]\nsampling = true\n", "2025-11-25")
	s.send(`{"jsonrpc":"2.0","id":"no-such-request","result":{}}`)
	if got := resultText(s.call(1, "tools/call", `{"name":"echo","arguments":{}}`)); got != "echo:{}" {
		t.Errorf("after a stray response: %q", got)
	}
	waitFor(t, s, "no-such-request")
	// The same id again while the first is in flight (the server is
	// waiting for the client's sampling answer) is refused.
	s.send(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"sample","arguments":{}}}`)
	var req map[string]any
	json.Unmarshal(s.next(), &req)
	if req["method"] != "sampling/createMessage" {
		t.Fatalf("want the server's sampling request, got %v", req)
	}
	s.send(`{"jsonrpc":"2.0","id":9,"method":"ping"}`)
	if code, msg := errorOf(s.reply("9")); code != -32600 || !strings.Contains(msg, "already in use") {
		t.Errorf("reused id: %d %q", code, msg)
	}
	sid, _ := json.Marshal(req["id"])
	s.send(`{"jsonrpc":"2.0","id":` + string(sid) + `,"result":{"role":"assistant","content":{"type":"text","text":"hi"},"model":"m"}}`)
	if got := resultText(s.reply("9")); !strings.Contains(got, `"model":"m"`) {
		t.Errorf("the first request's answer: %q", got)
	}
}

// waitFor waits until mcpcell's stderr holds want.
func waitFor(t *testing.T, s *session, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("stderr never showed %q:\n%s", want, s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBatches2025_03_26(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2025-03-26")
	s.send(`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}]`)
	f := s.next()
	var batch []map[string]any
	if err := json.Unmarshal(f, &batch); err != nil || len(batch) != 2 {
		t.Fatalf("want a batch of two replies, got %s", f)
	}
	// A batch with a hidden call: mcpcell answers that one, the rest goes on.
	s.send(`[{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"secret_admin"}},{"jsonrpc":"2.0","id":4,"method":"ping"}]`)
	got := map[string]bool{}
	for len(got) < 2 {
		f := s.next()
		var list []map[string]any
		if f[0] == '[' {
			json.Unmarshal(f, &list)
		} else {
			var m map[string]any
			json.Unmarshal(f, &m)
			list = append(list, m)
		}
		for _, m := range list {
			got[fmt.Sprint(m["id"])] = true
			if fmt.Sprint(m["id"]) == "3" {
				if code, _ := errorOf(m); code != -32602 {
					t.Errorf("hidden call in a batch: %v", m)
				}
			}
		}
	}
}

func TestClientNames(t *testing.T) {
	path := writeProfile(t, "[client]\nnames = [\"claude-code\"]\n")
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
	code, msg := errorOf(s.call(1, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"evil-client","version":"1"}}`))
	if code != -32600 || !strings.Contains(msg, `"evil-client" is not allowed`) {
		t.Errorf("unknown client: %d %q", code, msg)
	}
	if code, _ := errorOf(s.call(2, "tools/list", `{}`)); code != -32600 {
		t.Errorf("request before a named client: code %d", code)
	}
	if r := s.call(3, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"claude-code","version":"1"}}`); r["result"] == nil {
		t.Errorf("allowed client refused: %v", r)
	}
}

func Test2026InputRequired(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2026-07-28")
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"test-client","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{},"sampling":{}}}`
	r := s.call(1, "server/discover", "{"+meta+"}")
	if r["result"] == nil {
		t.Fatalf("discover: %v", r)
	}
	// The server asks for elicitation; the profile denies it: the client
	// gets an input_required with nothing to answer, and on retry mcpcell
	// declines for it.
	r = s.call(2, "tools/call", `{"name":"ask_input","arguments":{},`+meta+`}`)
	res, _ := r["result"].(map[string]any)
	if res["resultType"] != "input_required" || len(res["inputRequests"].(map[string]any)) != 0 {
		t.Fatalf("first round: %v", r)
	}
	r = s.call(3, "tools/call", `{"name":"ask_input","arguments":{},"inputResponses":{},"requestState":"st-1",`+meta+`}`)
	if got := resultText(r); got != `got:{"e1":{"action":"decline"}}` {
		t.Errorf("retry: the server got %q", got)
	}
	// Denied capabilities are stripped from every request's _meta.
	got := resultText(s.call(4, "tools/call", `{"name":"last_init","arguments":{},`+meta+`}`))
	if !strings.Contains(got, "clientCapabilities") || strings.Contains(got, "elicitation") {
		t.Errorf("discover as the server saw it: %s", got)
	}
	// Hidden tools are hidden in this era too.
	if code, _ := errorOf(s.call(5, "tools/call", `{"name":"secret_admin",`+meta+`}`)); code != -32602 {
		t.Errorf("hidden tool in 2026-07-28: code %d", code)
	}
	if code, _ := errorOf(s.call(6, "resources/read", `{"uri":"file:///etc/passwd",`+meta+`}`)); code != -32602 {
		t.Errorf("hidden resource in 2026-07-28: code %d, want -32602", code)
	}
}

func TestAuditLog(t *testing.T) {
	path := writeProfile(t, fakeProfile)
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"auditor","version":"1"}}`)
	s.call(1, "tools/call", `{"name":"secret_admin","arguments":{"token":"hunter2-value"}}`)
	s.call(2, "tools/call", `{"name":"echo","arguments":{"text":"abc"}}`)
	s.in.Close()
	s.cmd.Wait()
	logs, _ := filepath.Glob(filepath.Join(filepath.Dir(path)+"-xdg", "state", "mcpcell", "audit", "*.jsonl"))
	if len(logs) != 1 {
		t.Fatalf("audit logs: %v", logs)
	}
	st, _ := os.Stat(logs[0])
	if st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(logs[0])
	text := string(b)
	if strings.Contains(text, "hunter2") || strings.Contains(text, `"abc"`) {
		t.Errorf("an argument value is in the audit log:\n%s", text)
	}
	for _, want := range []string{`"decision":"deny","rule":"tools.deny \"secret_*\"`, `"args":"token:string"`, `"client":"auditor"`, `"subject":"echo"`, `"duration_ms":`} {
		if !strings.Contains(text, want) {
			t.Errorf("audit log lacks %s:\n%s", want, text)
		}
	}
}

func Test2026MoreInputRequired(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2026-07-28")
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"test-client","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	// A denied sampling or roots request inside input_required fails the
	// call with the legacy request's code; nothing reaches the client.
	if code, _ := errorOf(s.call(1, "tools/call", `{"name":"ask_sampling",`+meta+`}`)); code != -1 {
		t.Errorf("input_required sampling: code %d, want -1", code)
	}
	if code, _ := errorOf(s.call(2, "tools/call", `{"name":"ask_roots",`+meta+`}`)); code != -32601 {
		t.Errorf("input_required roots: code %d, want -32601", code)
	}
	// subscriptions/listen is checked URI by URI.
	if code, msg := errorOf(s.call(3, "subscriptions/listen", `{"notifications":{"resourceSubscriptions":["file:///proj/a.txt","file:///etc/shadow"]},`+meta+`}`)); code != -32602 || !strings.Contains(msg, "file:///etc/shadow") {
		t.Errorf("listen with a hidden URI: %d %q", code, msg)
	}
	if r := s.call(4, "subscriptions/listen", `{"notifications":{"resourceSubscriptions":["file:///proj/a.txt"]},`+meta+`}`); r["result"] == nil {
		t.Errorf("listen with an allowed URI: %v", r)
	}
}

// Tasks pass through, in both eras that have them; the call that starts a
// task is what the policy checks.
func TestTasksPassThrough(t *testing.T) {
	for _, v := range []string{"2025-11-25", "2026-07-28"} {
		s := fakeSession(t, fakeProfile, v)
		meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"` + v + `","io.modelcontextprotocol/clientCapabilities":{}}`
		if r := s.call(1, "tasks/get", `{"taskId":"t-1",`+meta+`}`); r["result"] == nil {
			t.Errorf("%s tasks/get: %v", v, r)
		}
		if got := resultText(s.call(2, "tasks/result", `{"taskId":"t-1",`+meta+`}`)); got != "task result" {
			t.Errorf("%s tasks/result: %q", v, got)
		}
	}
}

func Test2026ClientNames(t *testing.T) {
	s := fakeSession(t, "[client]\nnames = [\"good\"]\n", "2026-07-28")
	meta := func(name string) string {
		return `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"` + name + `","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	}
	if code, _ := errorOf(s.call(1, "server/discover", `{`+meta("evil")+`}`)); code != -32600 {
		t.Errorf("evil client: code %d", code)
	}
	if r := s.call(2, "server/discover", `{`+meta("good")+`}`); r["result"] == nil {
		t.Errorf("good client: %v", r)
	}
	if code, msg := errorOf(s.call(3, "tools/list", `{`+meta("evil")+`}`)); code != -32600 || !strings.Contains(msg, `belongs to client "good"`) {
		t.Errorf("another client in the same session: %d %q", code, msg)
	}
}

func TestUnreadableListRefused(t *testing.T) {
	path := writeProfile(t, fakeProfile)
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver", "--bad-list"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	code, msg := errorOf(s.call(1, "tools/list", `{}`))
	if code != -32603 || !strings.Contains(msg, `has no string "name"`) {
		t.Errorf("a list entry without a name: %d %q; want the list refused", code, msg)
	}
}

func TestDeniedResourceNotification(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2025-11-25")
	if got := resultText(s.call(1, "tools/call", `{"name":"notify_updated","arguments":{}}`)); got != "notified" {
		t.Fatalf("notify_updated: %q", got)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var seen []string
	for _, f := range s.frames {
		if strings.Contains(string(f), "resources/updated") {
			seen = append(seen, string(f))
		}
	}
	if len(seen) != 1 || !strings.Contains(seen[0], "file:///proj/a.txt") {
		t.Errorf("resources/updated notifications at the client: %v; want only file:///proj/a.txt", seen)
	}
}

// A client that pipelines hundreds of calls gets exactly one answer each.
func TestPipelinedFlood(t *testing.T) {
	s := fakeSession(t, fakeProfile, "2025-11-25")
	const n = 500
	for i := 1; i <= n; i++ {
		name := "echo"
		if i%5 == 0 {
			name = "secret_admin"
		}
		s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, i, name))
	}
	answers := map[int]int{}
	for len(answers) < n {
		var m map[string]any
		json.Unmarshal(s.next(), &m)
		id, _ := m["id"].(float64)
		answers[int(id)]++
		code, _ := errorOf(m)
		if (int(id)%5 == 0) != (code == -32602) {
			t.Errorf("id %d: %v", int(id), m)
		}
	}
	s.send(`{"jsonrpc":"2.0","id":"last","method":"ping"}`)
	s.reply(`"last"`)
	for id, c := range answers {
		if c != 1 || id < 1 || id > n {
			t.Errorf("id %d answered %d times", id, c)
		}
	}
}
