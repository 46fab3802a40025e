package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
