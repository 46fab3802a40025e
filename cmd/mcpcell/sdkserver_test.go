package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// sdkServer is a real 2026-07-28 server: the Go SDK's own.
func sdkServer() int {
	s := mcp.NewServer(&mcp.Implementation{Name: "sdk-server", Version: "1"}, nil)
	obj := map[string]any{"type": "object"}
	text := func(s string) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
	}
	s.AddTool(&mcp.Tool{Name: "echo", InputSchema: obj}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text("echo:" + string(req.Params.Arguments)), nil
	})
	s.AddTool(&mcp.Tool{Name: "secret_tool", InputSchema: obj}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text("the secret tool ran"), nil
	})
	// confirm asks the client a question through an input_required result.
	s.AddTool(&mcp.Tool{Name: "confirm", InputSchema: obj}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if len(req.Params.InputResponses) == 0 {
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{
				"ok": &mcp.ElicitParams{Message: "proceed?", RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{}}},
			}}, nil
		}
		b, _ := json.Marshal(req.Params.InputResponses)
		return text("responses:" + string(b)), nil
	})
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, "sdk server:", err)
		return 1
	}
	return 0
}

// TestGoSDK2026 runs the Go SDK client against the Go SDK server through
// mcpcell in the 2026-07-28 era: no initialize, _meta on every request,
// and an input_required round trip that the profile's [client]
// elicitation switch decides.
func TestGoSDK2026(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("elicitation=%v", allow), func(t *testing.T) {
			profile := writeProfile(t, fmt.Sprintf("[tools]\ndeny = [\"secret_*\"]\n[client]\nelicitation = %v\n", allow))
			var asked atomic.Int32
			ctx, sess, stderr := connectSDK(t, cellCommand(t, profile, os.Args[0], "__sdkserver"), &mcp.ClientOptions{
				ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					asked.Add(1)
					return &mcp.ElicitResult{Action: "accept", Content: map[string]any{}}, nil
				},
			}, "")
			if v := sess.InitializeResult().ProtocolVersion; v != "2026-07-28" {
				t.Fatalf("negotiated %s, want 2026-07-28", v)
			}
			tools, err := sess.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, tl := range tools.Tools {
				if tl.Name == "secret_tool" {
					t.Errorf("tools/list shows secret_tool")
				}
			}
			if _, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "secret_tool"}); err == nil || !strings.Contains(err.Error(), "Unknown tool: secret_tool") {
				t.Errorf("hidden tool: err = %v", err)
			}
			res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "confirm", Arguments: map[string]any{}})
			if err != nil {
				t.Fatalf("confirm: %v\nstderr:\n%s", err, stderr.String())
			}
			got := textOf(res)
			if allow {
				if asked.Load() != 1 || !strings.Contains(got, `"accept"`) {
					t.Errorf("elicitation allowed: asked %d times, server got %s", asked.Load(), got)
				}
			} else if asked.Load() != 0 || !strings.Contains(got, `"decline"`) {
				t.Errorf("elicitation denied: the client was asked %d times, the server got %s", asked.Load(), got)
			}
		})
	}
}
