package profiles

import (
	"testing"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// ClientElicits says yes only where mcpcell can ask: a session that
// initialize fixed at 2025-06-18 or 2025-11-25, whose client declared
// elicitation in form mode, whatever the profile lets the server ask.
func TestClientElicits(t *testing.T) {
	for _, tc := range []struct {
		name, caps, asked, answered string
		profile                     string
		want                        bool
	}{
		{"2025-11-25 {}", `{"elicitation":{}}`, "2025-11-25", "2025-11-25", "", true},
		{"2025-11-25 form", `{"elicitation":{"form":{}}}`, "2025-11-25", "2025-11-25", "", true},
		{"2025-11-25 form and url", `{"elicitation":{"form":{},"url":{}}}`, "2025-11-25", "2025-11-25", "", true},
		{"2025-11-25 url alone", `{"elicitation":{"url":{}}}`, "2025-11-25", "2025-11-25", "", false},
		{"2025-06-18 {}", `{"elicitation":{}}`, "2025-06-18", "2025-06-18", "", true},
		{"server answers 2025-06-18", `{"elicitation":{"form":{}}}`, "2025-11-25", "2025-06-18", "", true},
		{"no capability", `{"sampling":{}}`, "2025-11-25", "2025-11-25", "", false},
		{"2025-06-18 no capability", `{"sampling":{}}`, "2025-06-18", "2025-06-18", "", false},
		{"elicitation null", `{"elicitation":null}`, "2025-11-25", "2025-11-25", "", false},
		{"2025-03-26", `{"elicitation":{}}`, "2025-03-26", "2025-03-26", "", false},
		{"2024-11-05", `{"elicitation":{}}`, "2024-11-05", "2024-11-05", "", false},
		{"server answers 2025-03-26", `{"elicitation":{}}`, "2025-11-25", "2025-03-26", "", false},
		{"profile denies the server elicitation", `{"elicitation":{}}`, "2025-11-25", "2025-11-25", "[client]\nelicitation = false\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := testPolicy(t, tc.profile)
			v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+tc.asked+`","capabilities":`+tc.caps+`,"clientInfo":{"name":"c","version":"1"}}}`)
			if v.Action != jsonrpc.Forward {
				t.Fatalf("initialize: %+v", v)
			}
			if pol.ClientElicits() {
				t.Fatal("ClientElicits before the initialize result fixed the version")
			}
			c := &jsonrpc.Call{ID: parseFrame(t, `{"jsonrpc":"2.0","id":1,"method":"initialize"}`).ID, Method: "initialize", State: v.State}
			if v := pol.Reply(jsonrpc.Down, c, parseFrame(t, `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"`+tc.answered+`","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}`)); v.Action != jsonrpc.Forward {
				t.Fatalf("initialize result: %+v", v)
			}
			if got := pol.ClientElicits(); got != tc.want {
				t.Errorf("ClientElicits() = %v, want %v", got, tc.want)
			}
		})
	}
}

// A 2026-07-28 session, which has no initialize, never elicits: a server
// sends no requests on stdio there.
func TestClientElicitsModern(t *testing.T) {
	pol := testPolicy(t, "")
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{}}}}`
	v := message(t, pol, jsonrpc.Up, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{`+meta+`}}`)
	if v.Action != jsonrpc.Forward {
		t.Fatalf("tools/list: %+v", v)
	}
	c := &jsonrpc.Call{ID: parseFrame(t, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`).ID, Method: "tools/list", State: v.State}
	pol.Reply(jsonrpc.Down, c, parseFrame(t, `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`))
	if pol.Version() != "2026-07-28" {
		t.Fatalf("version %q", pol.Version())
	}
	if pol.ClientElicits() {
		t.Error("ClientElicits in a 2026-07-28 session")
	}
}
