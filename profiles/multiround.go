package profiles

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// What mcpcell keeps of its answers for clients that never retry: the
// answers of at most maxCanned calls, and at most maxCannedBytes of the
// input request names they answer (counted with a string's header).
const (
	maxCanned      = 1024
	maxCannedBytes = 1 << 20
)

// inputRequired applies the [client] switches to a result of tools/call,
// prompts/get or resources/read that carries input requests (inputs, its
// inputRequests member, and state, its requestState), whatever its
// resultType says: 2026-07-28's input_required, which clients (the Go
// SDK's, in every protocol version) act on by the inputRequests alone. A
// denied elicitation is withheld from the client and declined by mcpcell
// when the client retries; a denied sampling or roots request fails the
// call with the code the legacy request would get.
// The result forwarded is result (m's, or createdTask's edit of it).
func (p *Policy) inputRequired(c *jsonrpc.Call, m *jsonrpc.Message, result, inputs, state []byte) jsonrpc.Verdict {
	withheld, v := p.screenInputs(inputs)
	if v.Action != jsonrpc.Forward || len(withheld) == 0 {
		return v
	}
	size := cannedSize(withheld)
	if size > maxCannedBytes {
		return refuse(jsonrpc.CodeInternalError, "client.elicitation = false", "mcpcell: the server asked for more elicitations than mcpcell keeps answers for (%d bytes of names, at most %d), and the profile does not allow elicitation", size, maxCannedBytes)
	}
	st, _ := jsontext.String(state)
	key := cannedKey(st, c.Method, c.Subject)
	p.mu.Lock()
	if old, ok := p.canned[key]; ok {
		p.cannedBytes -= cannedSize(old)
		delete(p.canned, key)
	}
	if len(p.canned) >= maxCanned || p.cannedBytes+size > maxCannedBytes {
		// A client that never retries: forget all, rather than refuse.
		clear(p.canned)
		p.cannedBytes = 0
	}
	p.canned[key] = withheld
	p.cannedBytes += size
	p.mu.Unlock()
	return jsonrpc.Verdict{Rule: "client.elicitation = false: declined by mcpcell", Frame: m.WithResult(withhold(result, withheld))}
}

// withhold returns result without the input requests named.
func withhold(result []byte, names []string) []byte {
	out, _ := jsontext.Edit(result, []string{"inputRequests"}, func(obj []byte) ([]byte, error) { return jsontext.DropMembers(obj, names...) })
	return out
}

// screenInputs reads an inputRequests map (nil: none) and applies the
// [client] switches: a denied sampling or roots request refuses the whole
// (with the code the legacy request would get), and so does anything
// that is not an input request; withheld names the denied elicitations.
// Each request's method is read in one spelling, as the policy's other
// names (a client written with Go's encoding/json reads "METHOD" as
// "method").
func (p *Policy) screenInputs(inputs []byte) (withheld []string, v jsonrpc.Verdict) {
	v = jsonrpc.Verdict{Rule: "reply"}
	if inputs == nil {
		return nil, v
	}
	ms, err := jsontext.Members(inputs)
	if err != nil {
		return nil, refuse(jsonrpc.CodeInternalError, "input_required", "mcpcell: inputRequests is not an object")
	}
	for _, rq := range ms {
		var r reader
		method, _ := r.str(rq.Value, "method")
		r.get(rq.Value, "params")
		if r.bad != nil {
			return nil, refuse(jsonrpc.CodeInternalError, "strict-json", "mcpcell: the server sent an invalid response: invalid JSON: %v", r.bad)
		}
		switch method {
		case "sampling/createMessage":
			if !p.sampling {
				return nil, refuse(jsonrpc.CodeUserRejected, "client.sampling = false", "mcpcell: the server asked for sampling, which the profile does not allow")
			}
		case "roots/list":
			if !p.roots {
				return nil, refuse(jsonrpc.CodeMethodNotFound, "client.roots = false", "Method not found: roots/list")
			}
		case "elicitation/create":
			if !p.elicitation {
				withheld = append(withheld, rq.Name)
			}
		default:
			return nil, refuse(jsonrpc.CodeInternalError, "input_required", "mcpcell: the server asked for %s, which is not an input request", clipName(method))
		}
	}
	return withheld, v
}

// A Task object (the tasks utility of 2025-11-25, the tasks extension of
// 2026-07-28) is screened wherever a server may put one, since a client
// may read a task's input requests and error wherever it finds it:
//   - the result of tasks/get, and of 2025-11-25's tasks/cancel (a Task
//     at the top): taskInputs;
//   - each entry of a tasks/list result (2025-11-25): listTasks;
//   - a CreateTaskResult answering tools/call, prompts/get or
//     resources/read, in its task member (2025-11-25) or at the top
//     (the extension): createdTask, next to inputRequired;
//   - the params of notifications/tasks/status (2025-11-25) and
//     notifications/tasks (the extension): notificationInputs, which
//     screens every notification.

// screenTask checks the Task object task as tasks/get's result is
// checked: the input requests of a task waiting for input, as those of
// an input_required result, but a denied elicitation is withheld without
// an answer (the task waits); its final result, which must carry none;
// and the error of a failed task, as an error the server answers with.
// what names where the task is, for the error and the note.
func (p *Policy) screenTask(task []byte, what string) (withheld []string, v jsonrpc.Verdict) {
	var r reader
	inputs := r.get(task, "inputRequests")
	final := r.get(r.get(task, "result"), "inputRequests")
	why := p.urlElicitation(r.get(task, "error"), &r)
	switch {
	case r.bad != nil:
		return nil, replySpelling(jsonrpc.Verdict{}, &r)
	case final != nil:
		return nil, refuse(jsonrpc.CodeInternalError, "input_required", "mcpcell: the result of the server's %s carries input requests", what)
	case why != "":
		return nil, refuseURLElicitation("the error of the server's " + what + " " + why)
	}
	return p.screenInputs(inputs)
}

// taskInputs checks a result that is a Task (tasks/get; tasks/cancel in
// 2025-11-25) with screenTask, and withholds its denied elicitations.
func (p *Policy) taskInputs(m *jsonrpc.Message) jsonrpc.Verdict {
	withheld, v := p.screenTask(m.Result, "task")
	if v.Action != jsonrpc.Forward || len(withheld) == 0 {
		return v
	}
	return jsonrpc.Verdict{Rule: "client.elicitation = false: withheld by mcpcell", Frame: m.WithResult(withhold(m.Result, withheld))}
}

// listTasks checks each task of a tasks/list result as tasks/get's: a
// denied elicitation is withheld from its task, and a task tasks/get
// would refuse refuses the whole list (withholding the task alone would
// show the client a list the server did not send).
func (p *Policy) listTasks(m *jsonrpc.Message) jsonrpc.Verdict {
	var r reader
	list := r.get(m.Result, "tasks")
	if r.bad != nil {
		return replySpelling(jsonrpc.Verdict{}, &r)
	}
	if list == nil {
		return jsonrpc.Verdict{Rule: "reply"}
	}
	tasks, err := jsontext.Elements(list)
	if err != nil {
		return refuse(jsonrpc.CodeInternalError, "list", "mcpcell: the server's list has no %q array", "tasks")
	}
	edited := false
	for i, task := range tasks {
		withheld, v := p.screenTask(task, fmt.Sprintf("task (tasks[%d])", i))
		if v.Action != jsonrpc.Forward {
			return v
		}
		if len(withheld) > 0 {
			tasks[i], edited = withhold(task, withheld), true
		}
	}
	if !edited {
		return jsonrpc.Verdict{Rule: "reply"}
	}
	return jsonrpc.Verdict{Rule: "client.elicitation = false: withheld by mcpcell", Frame: m.WithResult(jsontext.SetMember(m.Result, "tasks", jsontext.JoinArray(tasks)))}
}

// createdTask checks the Task a CreateTaskResult may carry in result, a
// result of tools/call, prompts/get or resources/read: in its task member
// (2025-11-25) with screenTask, and at the top (the extension) for what
// inputRequired does not read: its error and its final result (the
// members taskErr and taskResult). It returns result with the task's
// denied elicitations withheld.
func (p *Policy) createdTask(result, task, taskErr, taskResult []byte) ([]byte, jsonrpc.Verdict) {
	var r reader
	final := r.get(taskResult, "inputRequests")
	why := p.urlElicitation(taskErr, &r)
	switch {
	case r.bad != nil:
		return nil, replySpelling(jsonrpc.Verdict{}, &r)
	case final != nil:
		return nil, refuse(jsonrpc.CodeInternalError, "input_required", "mcpcell: the result of the server's task carries input requests")
	case why != "":
		return nil, refuseURLElicitation("the error of the server's task " + why)
	case task == nil:
		return result, jsonrpc.Verdict{Rule: "reply"}
	}
	withheld, v := p.screenTask(task, "task (result.task)")
	if v.Action != jsonrpc.Forward || len(withheld) == 0 {
		return result, v
	}
	out, _ := jsontext.Edit(result, []string{"task"}, func(t []byte) ([]byte, error) { return withhold(t, withheld), nil })
	return out, jsonrpc.Verdict{Rule: "client.elicitation = false: withheld by mcpcell"}
}

// notificationInputs drops a server notification that carries input
// requests (notifications/tasks of the tasks extension carries a task
// waiting for input) unless the profile allows every one of them: the
// client may poll tasks/get, which is checked as a result.
func (p *Policy) notificationInputs(m *jsonrpc.Message) jsonrpc.Verdict {
	var r reader
	inputs := r.get(m.Params, "inputRequests")
	final := r.get(r.get(m.Params, "result"), "inputRequests")
	why := p.urlElicitation(r.get(m.Params, "error"), &r)
	switch {
	case r.bad != nil:
		return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: "strict-json", Note: "dropped a notification from the server: " + r.bad.Error()}
	case why != "":
		return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: "client.elicitation = false", Note: "dropped a notification from the server: the error of its task " + why}
	case inputs == nil && final == nil:
		return jsonrpc.Verdict{Rule: "notification"}
	case final != nil:
		return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: "input_required", Note: "dropped a notification from the server: its task result carries input requests"}
	}
	withheld, v := p.screenInputs(inputs)
	if v.Action != jsonrpc.Forward || len(withheld) > 0 {
		rule := v.Rule
		if v.Action == jsonrpc.Forward {
			rule = "client.elicitation = false"
		}
		return jsonrpc.Verdict{Action: jsonrpc.Drop, Rule: rule}
	}
	return jsonrpc.Verdict{Rule: "notification"}
}

// cannedKey is where mcpcell's answers to a call wait for its retry: a
// hash of its requestState, or of its method and subject when it has
// none, since either may be as long as a frame.
func cannedKey(state, method, subject string) digest {
	h := sha256.New()
	if state != "" {
		h.Write([]byte{'s'})
		h.Write([]byte(state))
	} else {
		h.Write([]byte{'m'})
		h.Write([]byte(method))
		h.Write([]byte{0})
		h.Write([]byte(subject))
	}
	return digest(h.Sum(nil))
}

// cannedSize is what the names of withheld input requests count against
// maxCannedBytes.
func cannedSize(names []string) int {
	n := 0
	for _, name := range names {
		n += len(name) + 16
	}
	return n
}

// addCanned puts mcpcell's answers into a retried request's inputResponses.
// subject is the request's tool or prompt name, or URI, as the policy read
// it. With no answer waiting (nearly always) params are not read again.
func (p *Policy) addCanned(method, subject string, params []byte, r *reader) ([]byte, error) {
	switch method {
	case "tools/call", "prompts/get", "resources/read":
	default:
		return params, nil
	}
	p.mu.Lock()
	waiting := len(p.canned) > 0
	p.mu.Unlock()
	if !waiting {
		return params, nil
	}
	state, _ := r.str(params, "requestState")
	responses := r.get(params, "inputResponses")
	if r.bad != nil {
		return params, nil // refused by the caller
	}
	key := cannedKey(state, method, subject)
	p.mu.Lock()
	withheld, found := p.canned[key]
	if found {
		delete(p.canned, key)
		p.cannedBytes -= cannedSize(withheld)
	}
	p.mu.Unlock()
	if !found {
		return params, nil
	}
	if jsontext.TypeOf(responses) != "object" {
		responses = []byte("{}")
	}
	for _, name := range slices.Sorted(slices.Values(withheld)) {
		responses = jsontext.SetMember(responses, name, []byte(`{"action":"decline"}`))
	}
	return jsontext.SetMember(params, "inputResponses", responses), nil
}

// codeURLElicitation is 2025-11-25's URLElicitationRequiredError: the
// request failed until the user has visited the pages its
// data.elicitations name, and clients act on it by its code (the Go SDK's
// URL elicitation middleware, the TypeScript SDK's
// UrlElicitationRequiredError) in any protocol version.
const codeURLElicitation = -32042

// serverError applies the [client] switches to an error the server
// answered a request with: a URL elicitation the profile denies is
// replaced by mcpcell's own error, so that its pages never reach the
// client, as a server's elicitation/create is declined.
func (p *Policy) serverError(e []byte) jsonrpc.Verdict {
	var r reader
	why := p.urlElicitation(e, &r)
	switch {
	case r.bad != nil:
		return replySpelling(jsonrpc.Verdict{}, &r)
	case why != "":
		return refuseURLElicitation("the server's error " + why)
	}
	return jsonrpc.Verdict{Rule: "reply"}
}

// urlElicitation says how the JSON-RPC error object e (nil: none) asks
// the client for a URL elicitation while the profile denies elicitation,
// or returns "". Its code is read as JavaScript and Python clients read
// numbers (-32042.0 and -3.2042e4 are -32042 to them); a code that is no
// number may be a string a lax reader (pydantic) takes for one; and
// data.elicitations is what clients open, whatever the code. Members in
// another spelling are left in r for the caller to refuse.
func (p *Policy) urlElicitation(e []byte, r *reader) string {
	if p.elicitation || jsontext.TypeOf(e) != "object" {
		return ""
	}
	code := r.get(e, "code")
	data := r.get(e, "data")
	var elicitations []byte
	if jsontext.TypeOf(data) == "object" {
		elicitations = r.get(data, "elicitations")
	}
	switch {
	case r.bad != nil:
		return ""
	case elicitations != nil:
		return "carries elicitations (URL elicitation)"
	case jsontext.TypeOf(code) != "number":
		return "has a code that is no number, which a lax client reads as -32042 (URL elicitation) when it can"
	}
	if f, err := strconv.ParseFloat(string(code), 64); err == nil && f == codeURLElicitation {
		return "is a URL elicitation (-32042)"
	}
	return ""
}

// refuseURLElicitation is mcpcell's error in place of a URL elicitation
// the profile denies; what says where the server sent it.
func refuseURLElicitation(what string) jsonrpc.Verdict {
	v := refuse(jsonrpc.CodeInternalError, "client.elicitation = false", "mcpcell: the server asked the client to open a page for the user (URL elicitation), which the profile does not allow")
	v.Note = "withheld from the client: " + what + ", and [client] elicitation = false"
	return v
}
