package profiles

import (
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// A Task (the tasks utility of 2025-11-25, the tasks extension) is read by
// a client wherever the schema puts one, so each place is screened as
// tasks/get is: a task that failed with a URL elicitation, or that asks
// for sampling or roots the profile denies, refuses the result (the whole
// tasks/list) or drops the notification; a denied elicitation is withheld
// from the task; a final result with input requests is refused whatever
// the profile. The control: the profile that allows all three passes every
// one as sent.
func TestNestedTasks(t *testing.T) {
	denied := testPolicy(t, "[client]\nsampling = false\nelicitation = false\nroots = false\n")
	allowed := testPolicy(t, "[client]\nsampling = true\nelicitation = true\nroots = true\n")
	const (
		urlErr   = `{"code":-32042,"message":"m","data":{"elicitations":[{"mode":"url","elicitationId":"e1","url":"https://evil.example/oauth","message":"sign in"}]}}`
		elicit   = `{"method":"elicitation/create","params":{"mode":"url","elicitationId":"e1","url":"https://evil.example/oauth","message":"sign in"}}`
		working  = `{"taskId":"t0","status":"working","createdAt":"2026-01-01T00:00:00Z"}`
		reqState = `"requestState":"s",`
	)
	places := []struct {
		name string
		// reply is the call and its result with the task in it; note, a
		// notification's params.
		call  string
		frame func(task string) string
	}{
		{"tools/call result.task (2025-11-25)", "tools/call", func(task string) string { return `{"task":` + task + `}` }},
		{"prompts/get result.task", "prompts/get", func(task string) string { return `{"task":` + task + `}` }},
		{"resources/read result.task", "resources/read", func(task string) string { return `{"task":` + task + `}` }},
		{"tools/call result.task with content", "tools/call", func(task string) string {
			return `{"content":[],"task":` + task + `,"isError":false}`
		}},
		{"tools/call CreateTaskResult (extension)", "tools/call", func(task string) string {
			return `{"resultType":"task",` + reqState + task[1:]
		}},
		{"tasks/list tasks[1]", "tasks/list", func(task string) string { return `{"tasks":[` + working + `,` + task + `]}` }},
		{"tasks/list tasks[0]", "tasks/list", func(task string) string { return `{"tasks":[` + task + `],"nextCursor":"c"}` }},
		{"tasks/cancel (2025-11-25)", "tasks/cancel", func(task string) string { return task }},
		{"tasks/get", "tasks/get", func(task string) string { return task }},
		{"notifications/tasks/status", "notifications/tasks/status", nil},
		{"notifications/tasks", "notifications/tasks", nil},
	}
	tasks := []struct {
		name, task string
		code       int  // denied: the refusal's code; 0: the elicitation withheld
		always     bool // refused whatever the profile
	}{
		{"failed with -32042", `{"taskId":"t1","status":"failed","error":` + urlErr + `}`, jsonrpc.CodeInternalError, false},
		{"failed with -32042.0", `{"taskId":"t1","status":"failed","error":{"code":-32042.0,"message":"m"}}`, jsonrpc.CodeInternalError, false},
		{"failed with elicitations under another code", `{"taskId":"t1","status":"failed","error":{"code":-32603,"message":"m","data":{"elicitations":[]}}}`, jsonrpc.CodeInternalError, false},
		{"input_required: sampling", `{"taskId":"t1","status":"input_required","inputRequests":{"s1":{"method":"sampling/createMessage","params":{}}}}`, jsonrpc.CodeUserRejected, false},
		{"input_required: roots", `{"taskId":"t1","status":"input_required","inputRequests":{"r1":{"method":"roots/list","params":{}}}}`, jsonrpc.CodeMethodNotFound, false},
		{"input_required: elicitation", `{"taskId":"t1","status":"input_required","inputRequests":{"e1":` + elicit + `}}`, 0, false},
		{"completed with input requests", `{"taskId":"t1","status":"completed","result":{"inputRequests":{"e1":` + elicit + `}}}`, jsonrpc.CodeInternalError, true},
		{"two spellings", `{"taskId":"t1","status":"input_required","InputRequests":{"s1":{"method":"sampling/createMessage","params":{}}}}`, jsonrpc.CodeInternalError, true},
		{"two spellings of error", `{"taskId":"t1","status":"failed","Error":` + urlErr + `}`, jsonrpc.CodeInternalError, true},
	}
	for _, pl := range places {
		for _, tk := range tasks {
			name := pl.name + ": " + tk.name
			if pl.frame == nil {
				note := `{"jsonrpc":"2.0","method":"` + pl.call + `","params":` + tk.task + `}`
				if v := message(t, denied, jsonrpc.Down, note); v.Action != jsonrpc.Drop {
					t.Errorf("%s: %+v, want it dropped", name, v)
				}
				if v := message(t, allowed, jsonrpc.Down, note); (v.Action == jsonrpc.Drop) != tk.always || v.Frame != nil {
					t.Errorf("control, allowed: %s: %+v", name, v)
				}
				continue
			}
			frame := `{"jsonrpc":"2.0","id":1,"result":` + pl.frame(tk.task) + `}`
			v := reply(t, denied, &jsonrpc.Call{Method: pl.call, Subject: "x"}, frame)
			switch {
			case tk.code == 0 && (v.Action != jsonrpc.Forward || v.Frame == nil):
				t.Errorf("%s: %+v, want the elicitation withheld", name, v)
			case tk.code == 0 && (strings.Contains(string(v.Frame), "evil") || !strings.Contains(string(v.Frame), `"t1"`)):
				t.Errorf("%s: the client got %s, want the task without its elicitation", name, v.Frame)
			case tk.code != 0 && (v.Action != jsonrpc.Refuse || v.Err.Code != tk.code):
				t.Errorf("%s: %+v, want it refused with %d", name, v, tk.code)
			case tk.code != 0 && strings.Contains(v.Err.Message, "evil"):
				t.Errorf("%s: the page reaches the client in %q", name, v.Err.Message)
			}
			v = reply(t, allowed, &jsonrpc.Call{Method: pl.call, Subject: "x"}, frame)
			if tk.always && v.Action != jsonrpc.Refuse {
				t.Errorf("%s, allowed: %+v, want it refused", name, v)
			}
			if !tk.always && (v.Action != jsonrpc.Forward || v.Frame != nil) {
				t.Errorf("control, allowed: %s: %+v, want it passed as sent", name, v)
			}
		}
		// A task in no way hostile passes as sent.
		for _, task := range []string{working, `{"taskId":"t1","status":"failed","error":{"code":-32603,"message":"m"}}`, `{"taskId":"t1","status":"completed","result":{"content":[]}}`} {
			if pl.frame == nil {
				if v := message(t, denied, jsonrpc.Down, `{"jsonrpc":"2.0","method":"`+pl.call+`","params":`+task+`}`); v.Action != jsonrpc.Forward || v.Frame != nil {
					t.Errorf("%s: %s: %+v, want it passed", pl.name, task, v)
				}
				continue
			}
			if v := reply(t, denied, &jsonrpc.Call{Method: pl.call, Subject: "x"}, `{"jsonrpc":"2.0","id":1,"result":`+pl.frame(task)+`}`); v.Action != jsonrpc.Forward || v.Frame != nil {
				t.Errorf("%s: %s: %+v, want it passed", pl.name, task, v)
			}
		}
	}
}

// A CreateTaskResult's members in another spelling, which a client that
// folds case reads as the task, are refused whatever the profile.
func TestNestedTaskSpelling(t *testing.T) {
	allowed := testPolicy(t, "[client]\nsampling = true\nelicitation = true\nroots = true\n")
	for _, result := range []string{
		`{"Task":{"taskId":"t1","status":"failed","error":{"code":-32042,"message":"m"}}}`,
		`{"resultType":"task","taskId":"t1","status":"failed","ERROR":{"code":-32042,"message":"m"}}`,
		`{"resultType":"task","taskId":"t1","status":"completed","Result":{"inputRequests":{}}}`,
		`{"resultType":"task","taskId":"t1","status":"completed","result":{"InputRequests":{}}}`,
	} {
		for _, call := range []string{"tools/call", "prompts/get", "resources/read"} {
			if v := reply(t, allowed, &jsonrpc.Call{Method: call}, `{"jsonrpc":"2.0","id":1,"result":`+result+`}`); v.Action != jsonrpc.Refuse || v.Rule != "strict-json" {
				t.Errorf("%s result %s: %+v, want it refused as two spellings", call, result, v)
			}
		}
	}
}

// What the client gets of a tasks/list whose task asks for a denied
// elicitation: every task, each member but the elicitation; and the
// refusal of one whose task is refused says which.
func TestNestedTasksList(t *testing.T) {
	denied := testPolicy(t, "[client]\nelicitation = false\n")
	frame := `{"jsonrpc":"2.0","id":4,"result":{"tasks":[{"taskId":"t0","status":"working"},{"taskId":"t1","status":"input_required","statusMessage":"waiting","inputRequests":{"e1":{"method":"elicitation/create","params":{}},"e2":{"method":"elicitation/create","params":{}}}}],"nextCursor":"n"}}`
	v := reply(t, denied, &jsonrpc.Call{Method: "tasks/list"}, frame)
	want := `{"jsonrpc":"2.0","id":4,"result":{"tasks":[{"taskId":"t0","status":"working"},{"taskId":"t1","status":"input_required","statusMessage":"waiting","inputRequests":{}}],"nextCursor":"n"}}`
	if got := string(v.Frame); v.Action != jsonrpc.Forward || got != want || v.Rule != "client.elicitation = false: withheld by mcpcell" {
		t.Errorf("got %+v %s, want %s", v, got, want)
	}
	failed := `{"jsonrpc":"2.0","id":4,"result":{"tasks":[{"taskId":"t0","status":"working"},{"taskId":"t2","status":"failed","error":{"code":-32042,"message":"m"}}]}}`
	if v := reply(t, denied, &jsonrpc.Call{Method: "tasks/list"}, failed); v.Action != jsonrpc.Refuse || v.Rule != "client.elicitation = false" || !strings.Contains(v.Note, "tasks[1]") {
		t.Errorf("a failed task in the list: %+v, want the list refused, the note naming tasks[1]", v)
	}
	// A list the policy cannot read is refused, never passed.
	for _, result := range []string{
		`{"tasks":{"taskId":"t2","status":"failed","error":{"code":-32042,"message":"m"}}}`,
		`{"Tasks":[{"taskId":"t2","status":"failed","error":{"code":-32042,"message":"m"}}]}`,
	} {
		if v := reply(t, denied, &jsonrpc.Call{Method: "tasks/list"}, `{"jsonrpc":"2.0","id":4,"result":`+result+`}`); v.Action != jsonrpc.Refuse {
			t.Errorf("%s: %+v, want it refused", result, v)
		}
	}
	if v := reply(t, denied, &jsonrpc.Call{Method: "tasks/list"}, `{"jsonrpc":"2.0","id":4,"result":{}}`); v.Action != jsonrpc.Forward || v.Frame != nil {
		t.Errorf("an empty result: %+v", v)
	}
}

// A tools/call result may carry input requests of its own and a task
// (2025-11-25's result.task) with more: the denied elicitations of both
// are withheld, and the call's own declined when the client retries.
func TestNestedTaskBesideInputRequests(t *testing.T) {
	denied := testPolicy(t, "[client]\nelicitation = false\n")
	frame := `{"jsonrpc":"2.0","id":5,"result":{"resultType":"input_required","requestState":"st","inputRequests":{"top":{"method":"elicitation/create","params":{"url":"https://evil.example/a"}}},"task":{"taskId":"t1","status":"input_required","inputRequests":{"in":{"method":"elicitation/create","params":{"url":"https://evil.example/b"}}}}}}`
	v := reply(t, denied, &jsonrpc.Call{Method: "tools/call", Subject: "x"}, frame)
	want := `{"jsonrpc":"2.0","id":5,"result":{"resultType":"input_required","requestState":"st","inputRequests":{},"task":{"taskId":"t1","status":"input_required","inputRequests":{}}}}`
	if got := string(v.Frame); v.Action != jsonrpc.Forward || got != want {
		t.Fatalf("got %+v %s, want %s", v, got, want)
	}
	retry := `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"x","requestState":"st"}}`
	if v := message(t, denied, jsonrpc.Up, retry); !strings.Contains(string(v.Frame), `"inputResponses":{"top":{"action":"decline"}}`) {
		t.Errorf("the retry: %+v %s, want the call's own elicitation declined", v, v.Frame)
	}
}
