package profiles

import (
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// maxCanned bounds the answers kept for clients that never retry.
const maxCanned = 1024

// inputRequired applies the [client] switches to a 2026-07-28
// input_required result. A denied elicitation is withheld from the client
// and declined by mcpcell when the client retries; a denied sampling or
// roots request fails the call with the code the legacy request would get.
// Reply calls it for results whose resultType is input_required.
func (p *Policy) inputRequired(c *jsonrpc.Call, m *jsonrpc.Message) jsonrpc.Verdict {
	ok := jsonrpc.Verdict{Rule: "reply"}
	reqs := jsonrpc.Lookup(m.Result, "inputRequests")
	if reqs == nil {
		return ok
	}
	ms, err := jsonrpc.Members(reqs)
	if err != nil {
		return refuse(jsonrpc.CodeInternalError, "input_required", "mcpcell: inputRequests is not an object")
	}
	canned := map[string][]byte{}
	var withheld []string
	for _, r := range ms {
		method, _ := jsonrpc.String(jsonrpc.Lookup(r.Value, "method"))
		switch method {
		case "sampling/createMessage":
			if !p.sampling {
				return refuse(jsonrpc.CodeUserRejected, "client.sampling = false", "mcpcell: the server asked for sampling, which the profile does not allow")
			}
		case "roots/list":
			if !p.roots {
				return refuse(jsonrpc.CodeMethodNotFound, "client.roots = false", "Method not found: roots/list")
			}
		case "elicitation/create":
			if !p.elicitation {
				canned[r.Name] = []byte(`{"action":"decline"}`)
				withheld = append(withheld, r.Name)
			}
		default:
			return refuse(jsonrpc.CodeInternalError, "input_required", "mcpcell: the server asked for %q, which is not an input request", method)
		}
	}
	if len(withheld) == 0 {
		return ok
	}
	state, _ := jsonrpc.String(jsonrpc.Lookup(m.Result, "requestState"))
	p.mu.Lock()
	if len(p.canned) >= maxCanned {
		clear(p.canned)
	}
	p.canned[cannedKey(state, c.Method, c.Subject)] = canned
	p.mu.Unlock()
	out, _ := edit(m.Result, []string{"inputRequests"}, func(obj []byte) ([]byte, error) { return dropMembers(obj, withheld...) })
	return jsonrpc.Verdict{Rule: "client.elicitation = false: declined by mcpcell", Frame: m.WithResult(out)}
}

func cannedKey(state, method, subject string) string {
	if state != "" {
		return "s" + state
	}
	return "m" + method + "\x00" + subject
}

// addCanned puts mcpcell's answers into a retried request's inputResponses.
// subject is the request's tool or prompt name, or URI, as the policy read
// it. With no answer waiting (nearly always) params are not read again.
func (p *Policy) addCanned(method, subject string, params []byte) ([]byte, error) {
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
	state, _ := jsonrpc.String(jsonrpc.Lookup(params, "requestState"))
	key := cannedKey(state, method, subject)
	p.mu.Lock()
	canned, found := p.canned[key]
	delete(p.canned, key)
	p.mu.Unlock()
	if !found {
		return params, nil
	}
	responses := jsonrpc.Lookup(params, "inputResponses")
	if jsonrpc.TypeOf(responses) != "object" {
		responses = []byte("{}")
	}
	for _, name := range sortedKeys(canned) {
		responses = setMember(responses, name, canned[name])
	}
	return setMember(params, "inputResponses", responses), nil
}
