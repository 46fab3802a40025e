package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/internal/trust"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// olderDefinition is the digest withChanged pins for each tool it marks
// changed: a definition the server never lists.
var olderDefinition = trust.Sum([]byte("an older definition"))

// changedTools is a pinned surface whose record holds tools as approved
// in an older definition.
type changedTools struct {
	store *trust.Store
	name  string
	tools []string // the tools marked changed
}

// withChanged pins, in the trust store of mcpcell as cmd starts it (a
// profile file run by cellCommand), an older definition of each tool
// named, as if the user had approved it before the server changed it:
// a session of the same command lists the tools first (trust on first
// use lasts one listing), then the record's entries of those named are
// made older.
func withChanged(t *testing.T, cmd *exec.Cmd, names ...string) changedTools {
	t.Helper()
	first := exec.Command(cmd.Path, cmd.Args[1:]...)
	first.Env, first.Dir = cmd.Env, cmd.Dir
	s := startSession(t, first)
	meta := ""
	if slices.Contains(cmd.Args, "--version=2026-07-28") {
		meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
		s.call(1, "server/discover", "{"+meta+"}")
	} else {
		// A client that can do what the test's can: server-everything
		// lists get-roots-list only to a client with roots.
		s.call(1, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{"roots":{"listChanged":true},"elicitation":{},"sampling":{}},"clientInfo":{"name":"c","version":"1"}}`)
		s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	}
	sep := ""
	if meta != "" {
		sep = ","
	}
	for id, cursor := 2, ""; ; id++ {
		params := "{" + meta + "}"
		if cursor != "" {
			params = fmt.Sprintf(`{"cursor":%q%s%s}`, cursor, sep, meta)
		}
		r := s.call(id, "tools/list", params)
		res, ok := r["result"].(map[string]any)
		if !ok {
			t.Fatalf("the first listing: %v", r)
		}
		if cursor, _ = res["nextCursor"].(string); cursor == "" {
			break
		}
	}
	finish(t, s)
	profile := cmd.Args[slices.Index(cmd.Args, "--profile")+1]
	argv := cmd.Args[slices.Index(cmd.Args, "--")+1:]
	state := ""
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "XDG_STATE_HOME="); ok {
			state = v
		}
	}
	ct := changedTools{store: &trust.Store{Dir: filepath.Join(state, "mcpcell", "trust")}, name: trust.SurfaceName(profile, filepath.Dir(profile), argv), tools: names}
	err := ct.store.UpdateSurface(ct.name, func(r *trust.SurfaceRecord) bool {
		if r.Kinds == nil {
			r.Kinds = map[string]*trust.PinSet{}
		}
		set := r.Kinds[trust.Tools]
		if set == nil || len(set.Approved) == 0 {
			t.Fatalf("the first listing approved no tool")
		}
		for _, n := range names {
			set.Approved[trust.Sum([]byte(n))] = &trust.Pin{Name: n, Digest: olderDefinition}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// approved lists the tools whose approved definition is no longer the
// older one: those the user approved since.
func (ct changedTools) approved(t *testing.T) []string {
	t.Helper()
	r, err := ct.store.ReadSurface(ct.name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	if set := r.Kinds[trust.Tools]; set != nil {
		for _, p := range set.Approved {
			if p.Digest != olderDefinition && slices.Contains(ct.tools, p.Name) {
				out = append(out, p.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// waitAudit waits until the session's audit log holds a record ok
// accepts.
func waitAudit(t *testing.T, profile string, ok func(audit.Record) bool) audit.Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, r := range auditRecords(t, profile) {
			if ok(r) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such audit record in 20s: %+v", auditRecords(t, profile))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// consentRecords are the session's consent records, as "decision
// subject".
func consentRecords(t *testing.T, profile string) []string {
	var out []string
	for _, r := range auditRecords(t, profile) {
		if r.Rule == consentRule && r.Kind != "notification" {
			out = append(out, r.Decision+" "+r.Subject)
		}
	}
	return out
}

func toolNames(t *testing.T, ctx context.Context, sess *mcp.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range sess.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("listing tools: %v", err)
		}
		names = append(names, tool.Name)
	}
	return names
}

// The Go SDK client, with an elicitation handler, over the real
// server-everything, whose echo tool mcpcell holds as changed since the
// user trusted it: the tool is withheld from the first listing and its
// call refused, and the user is asked, with the tool's new description.
// Accept: the approval is recorded, the client gets list_changed, lists
// again and sees echo, and may call it. Decline: nothing is approved, no
// list_changed comes, echo stays withheld and its call refused.
func TestConsentSDK(t *testing.T) {
	nm := nodeModules(t)
	server := filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
	for _, tc := range []struct {
		version, action string
	}{
		{"2025-11-25", "accept"},
		{"2025-06-18", "accept"},
		{"2025-11-25", "decline"},
		{"2025-11-25", "cancel"},
	} {
		t.Run(tc.version+"-"+tc.action, func(t *testing.T) {
			profile := writeProfile(t, grantRead(nm)+everythingProfile)
			cmd := cellCommand(t, profile, "node", server, "stdio")
			approved := withChanged(t, cmd, "echo")
			var mu sync.Mutex
			var messages []string
			asked := make(chan struct{}, 10)
			changed := make(chan struct{}, 10)
			ctx, sess, stderr := connectSDK(t, cmd, &mcp.ClientOptions{
				ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					mu.Lock()
					messages = append(messages, req.Params.Message)
					mu.Unlock()
					asked <- struct{}{}
					return &mcp.ElicitResult{Action: tc.action}, nil
				},
				ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
			}, tc.version)
			if v := sess.InitializeResult().ProtocolVersion; v != tc.version {
				t.Fatalf("negotiated %s, want %s", v, tc.version)
			}
			if names := toolNames(t, ctx, sess); slices.Contains(names, "echo") || !slices.Contains(names, "get-sum") {
				t.Fatalf("first listing %v: want echo withheld, get-sum shown", names)
			}
			select {
			case <-asked:
			case <-time.After(20 * time.Second):
				t.Fatalf("the user was never asked; stderr:\n%s", stderr.String())
			}
			mu.Lock()
			msg := messages[0]
			mu.Unlock()
			// The record kept no members of the older definition: the
			// question shows the new one whole.
			if !strings.Contains(msg, `changed the tool "echo" since you trusted it (definition). Its new definition:`) || !strings.Contains(msg, `"description": "Echoes back the input string"`) || !strings.Contains(msg, `"description": "Message to echo"`) {
				t.Errorf("the question: %s", msg)
			}
			// server-everything sends list_changed of its own: mcpcell's
			// is known by its audit record.
			ownNotice := func(r audit.Record) bool {
				return r.Rule == consentRule && r.Kind == "notification" && r.Method == "notifications/tools/list_changed"
			}
			if tc.action == "accept" {
				waitAudit(t, profile, ownNotice)
				select {
				case <-changed:
				case <-time.After(20 * time.Second):
					t.Fatalf("no tools/list_changed after the user accepted; stderr:\n%s", stderr.String())
				}
				if names := toolNames(t, ctx, sess); !slices.Contains(names, "echo") {
					t.Errorf("listing after approval %v: want echo", names)
				}
				if res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hi"}}); err != nil || !strings.Contains(textOf(res), "hi") {
					t.Errorf("echo after approval: %v %v", res, err)
				}
				if got := approved.approved(t); !slices.Equal(got, []string{"echo"}) {
					t.Errorf("approved since %q, want echo", got)
				}
				if !strings.Contains(stderr.String(), `mcpcell: the user approved the tool "echo" through the client; it is listed again`) {
					t.Errorf("stderr:\n%s", stderr.String())
				}
			} else {
				decision := map[string]string{"decline": "declined", "cancel": "cancelled"}[tc.action]
				waitAudit(t, profile, func(r audit.Record) bool { return r.Rule == consentRule && r.Decision == decision })
				if names := toolNames(t, ctx, sess); slices.Contains(names, "echo") {
					t.Errorf("listing after %s %v: echo shown", tc.action, names)
				}
				if _, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hi"}}); err == nil || !strings.Contains(err.Error(), "Unknown tool: echo") {
					t.Errorf("echo after %s: err = %v, want Unknown tool", tc.action, err)
				}
				if got := approved.approved(t); len(got) != 0 {
					t.Errorf("approved %q", got)
				}
				if strings.Contains(stderr.String(), "approved") {
					t.Errorf("stderr:\n%s", stderr.String())
				}
			}
			// One question however often the client lists.
			if len(asked) != 0 {
				t.Errorf("asked %d more times", len(asked))
			}
			sess.Close()
			want := []string{"ask tool echo", map[string]string{"accept": "approved", "decline": "declined", "cancel": "cancelled"}[tc.action] + " tool echo"}
			if got := consentRecords(t, profile); !slices.Equal(got, want) {
				t.Errorf("consent records %q, want %q", got, want)
			}
			if notified := slices.ContainsFunc(auditRecords(t, profile), ownNotice); notified != (tc.action == "accept") {
				t.Errorf("mcpcell sent list_changed: %v", notified)
			}
		})
	}
}

// Only a client that can be asked is: a session whose version has
// server requests and elicitation (2025-06-18, 2025-11-25), whose client
// declared form elicitation. The others get no elicitation/create; the
// tool stays withheld and its stderr line stands. The profile's [client]
// elicitation = false, which is what the server may ask, does not stop
// mcpcell's own question (while the server's is still declined). At most
// three questions a session, and a note naming mcpcell trust --tools.
func TestConsentWhoIsAsked(t *testing.T) {
	for _, tc := range []struct {
		name, version, caps, profile string
		changed                      []string
		asks                         int
	}{
		{"2025-11-25 form", "2025-11-25", `{"elicitation":{}}`, "", []string{"echo"}, 1},
		{"2025-11-25 form named", "2025-11-25", `{"elicitation":{"form":{},"url":{}}}`, "", []string{"echo"}, 1},
		{"2025-06-18", "2025-06-18", `{"elicitation":{}}`, "", []string{"echo"}, 1},
		{"url mode only", "2025-11-25", `{"elicitation":{"url":{}}}`, "", []string{"echo"}, 0},
		{"no elicitation", "2025-11-25", `{"sampling":{},"roots":{}}`, "", []string{"echo"}, 0},
		{"2025-06-18 no elicitation", "2025-06-18", `{"sampling":{}}`, "", []string{"echo"}, 0},
		{"2025-03-26", "2025-03-26", `{"elicitation":{}}`, "", []string{"echo"}, 0},
		{"2024-11-05", "2024-11-05", `{"elicitation":{}}`, "", []string{"echo"}, 0},
		{"2026-07-28", "2026-07-28", `{"elicitation":{"form":{}}}`, "", []string{"echo"}, 0},
		{"server may not elicit", "2025-11-25", `{"elicitation":{}}`, "[client]\nelicitation = false\n", []string{"echo"}, 1},
		{"five changed", "2025-11-25", `{"elicitation":{}}`, "", []string{"echo", "read_file", "write_file", "secret_admin", "sample"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			profile := writeProfile(t, tc.profile)
			cmd := cellCommand(t, profile, os.Args[0], "__fakeserver", "--version="+tc.version)
			withChanged(t, cmd, tc.changed...)
			s := startSession(t, cmd)
			meta := ""
			if tc.version >= "2026-07-28" {
				meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/clientCapabilities":` + tc.caps + `}`
				if r := s.call(1, "server/discover", "{"+meta+"}"); r["result"] == nil {
					t.Fatalf("discover: %v", r)
				}
			} else {
				if r := s.call(1, "initialize", fmt.Sprintf(`{"protocolVersion":%q,"capabilities":%s,"clientInfo":{"name":"c","version":"1"}}`, tc.version, tc.caps)); r["result"] == nil {
					t.Fatalf("initialize: %v", r)
				}
				s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			}
			from := len(s.frames)
			r := s.call(2, "tools/list", "{"+meta+"}")
			b, _ := json.Marshal(r)
			if strings.Contains(string(b), `"echo"`) {
				t.Fatalf("echo listed: %s", b)
			}
			// What the listing made mcpcell send comes before the answer
			// to the next request.
			sep := ""
			if meta != "" {
				sep = ","
			}
			s.call(3, "tools/list", `{"cursor":"page2"`+sep+meta+`}`)
			asks := 0
			s.mu.Lock()
			for _, f := range s.frames[from:] {
				if strings.Contains(string(f), `"method":"elicitation/create"`) {
					asks++
					if !strings.Contains(string(f), `"id":"mcpcell-`) {
						t.Errorf("a question not of mcpcell's: %s", f)
					}
				}
			}
			s.mu.Unlock()
			if asks != tc.asks {
				t.Errorf("%d questions, want %d", asks, tc.asks)
			}
			note := strings.Contains(s.stderr.String(), "review them with mcpcell trust --tools")
			if note != (len(tc.changed) > maxConsentAsks) {
				t.Errorf("the note past the bound: %v; stderr:\n%s", note, s.stderr.String())
			}
			if !strings.Contains(s.stderr.String(), `the server changed since you trusted them: "echo" (definition)`) {
				t.Errorf("the withholding's stderr line is missing:\n%s", s.stderr.String())
			}
		})
	}
}

// A 2026-07-28 session of the Go SDK (client and server) has no server
// requests on stdio: the user is not asked and echo stays withheld. The
// same client and server in 2025-11-25 are asked (the control).
func TestConsentSDK2026(t *testing.T) {
	for _, version := range []string{"", "2025-11-25"} {
		t.Run("version="+version, func(t *testing.T) {
			profile := writeProfile(t, "")
			cmd := cellCommand(t, profile, os.Args[0], "__sdkserver")
			withChanged(t, cmd, "echo")
			asked := make(chan struct{}, 10)
			ctx, sess, _ := connectSDK(t, cmd, &mcp.ClientOptions{
				ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					asked <- struct{}{}
					return &mcp.ElicitResult{Action: "decline"}, nil
				},
			}, version)
			negotiated := sess.InitializeResult().ProtocolVersion
			if version == "" && negotiated != "2026-07-28" || version != "" && negotiated != version {
				t.Fatalf("negotiated %s", negotiated)
			}
			if names := toolNames(t, ctx, sess); slices.Contains(names, "echo") {
				t.Fatalf("echo listed: %v", names)
			}
			if version != "" {
				select {
				case <-asked:
				case <-time.After(20 * time.Second):
					t.Fatal("the control was not asked")
				}
				return
			}
			// A call after the listing: a question would have come before
			// its answer.
			toolNames(t, ctx, sess)
			sess.Close()
			if len(asked) != 0 {
				t.Error("asked in 2026-07-28")
			}
			if got := consentRecords(t, profile); len(got) != 0 {
				t.Errorf("consent records %q in 2026-07-28", got)
			}
		})
	}
}

// A client that never answers the question does not hold the session's
// end: when it closes its input the server is stopped as ever, the
// question's outcome "unanswered" is recorded before the session's end
// record, and nothing is approved.
func TestConsentUnansweredSessionEnds(t *testing.T) {
	profile := writeProfile(t, "")
	cmd := cellCommand(t, profile, os.Args[0], "__fakeserver")
	approved := withChanged(t, cmd, "echo")
	s := startSession(t, cmd)
	s.call(1, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{}},"clientInfo":{"name":"c","version":"1"}}`)
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	s.call(2, "tools/list", `{}`)
	for {
		if f := s.next(); strings.Contains(string(f), `"method":"elicitation/create"`) {
			break
		}
	}
	s.in.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("mcpcell still runs 10s after the client closed its input")
	}
	recs := auditRecords(t, profile)
	unanswered, end := -1, -1
	for i, r := range recs {
		switch {
		case r.Rule == consentRule && r.Decision == "unanswered" && r.Subject == "tool echo":
			unanswered = i
		case r.Decision == "end":
			end = i
		}
	}
	if unanswered < 0 || end < unanswered {
		t.Errorf("unanswered record at %d, end record at %d: %+v", unanswered, end, recs)
	}
	if got := approved.approved(t); len(got) != 0 {
		t.Errorf("approved %q", got)
	}
}
