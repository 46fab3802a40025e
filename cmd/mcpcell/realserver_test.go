package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/syncbuf"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const everythingProfile = `
[tools]
allow = ["echo", "get-*"]
deny = ["get-env"]

[tools.args.echo]
message = { max_len = 20 }
`

// TestGoSDKClientOverServerEverything drives mcpcell with the official Go
// SDK client over the real server-everything, in three protocol eras.
func TestGoSDKClientOverServerEverything(t *testing.T) {
	nm := nodeModules(t)
	server := filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
	for _, v := range []string{"2025-06-18", "2025-11-25", ""} {
		name := v
		if name == "" {
			name = "default-2026-07-28-probe"
		}
		t.Run(name, func(t *testing.T) {
			profile := writeProfile(t, grantRead(nm)+everythingProfile)
			ctx, sess, _ := connectSDK(t, cellCommand(t, profile, "node", server, "stdio"), nil, v)
			negotiated := sess.InitializeResult().ProtocolVersion
			t.Logf("negotiated protocol version %s", negotiated)
			if v != "" && negotiated != v {
				t.Errorf("negotiated %s, want %s", negotiated, v)
			}

			var names []string
			for tool, err := range sess.Tools(ctx, nil) {
				if err != nil {
					t.Fatalf("listing tools: %v", err)
				}
				names = append(names, tool.Name)
			}
			all := "," + strings.Join(names, ",") + ","
			for _, n := range names {
				if n != "echo" && !strings.HasPrefix(n, "get-") || n == "get-env" {
					t.Errorf("tools/list shows %q, which the profile hides", n)
				}
			}
			if !strings.Contains(all, ",echo,") || !strings.Contains(all, ",get-sum,") {
				t.Errorf("tools/list = %v; want echo and get-sum among them", names)
			}

			_, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "get-env", Arguments: map[string]any{}})
			if err == nil || !strings.Contains(err.Error(), "Unknown tool: get-env") {
				t.Errorf("calling the hidden get-env: err = %v, want Unknown tool: get-env", err)
			}

			res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hello cell"}})
			if err != nil || res.IsError || !strings.Contains(textOf(res), "hello cell") {
				t.Errorf("echo: %v %+v", err, res)
			}

			res, err = sess.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": strings.Repeat("long ", 10)}})
			switch {
			case negotiated < "2025-11-25":
				if err == nil || !strings.Contains(err.Error(), "max_len") {
					t.Errorf("argument constraint (%s): err = %v, want a -32602 error naming max_len", negotiated, err)
				}
			case err != nil || !res.IsError || !strings.Contains(textOf(res), "max_len"):
				t.Errorf("argument constraint (%s): err = %v, result %+v; want isError naming max_len", negotiated, err, res)
			}
		})
	}
}

// grantRead is a [filesystem] table granting read on dirs.
func grantRead(dirs ...string) string {
	return fmt.Sprintf("[filesystem]\nread = %s\n", tomlList(dirs))
}

func tomlList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// connectSDK connects the official Go SDK client to mcpcell (cmd) in
// protocol version ("" for the SDK's default); a failure shows mcpcell's
// stderr.
func connectSDK(t *testing.T, cmd *exec.Cmd, opts *mcp.ClientOptions, version string) (context.Context, *mcp.ClientSession, *syncbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpcell-test", Version: "1"}, opts)
	sess, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 5 * time.Second}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect: %v\nmcpcell stderr:\n%s", err, stderr.String())
	}
	t.Cleanup(func() { sess.Close() })
	return ctx, sess, stderr
}

func textOf(res *mcp.CallToolResult) string {
	var out []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			out = append(out, tc.Text)
		}
	}
	return strings.Join(out, "\n")
}

// TestInspectorCLI lists tools through mcpcell with the MCP Inspector CLI.
func TestInspectorCLI(t *testing.T) {
	nm := nodeModules(t)
	node22 := filepath.Join(nm, "node", "bin")
	inspector := filepath.Join(nm, ".bin", "mcp-inspector")
	_, err := os.Stat(filepath.Join(node22, "node"))
	need(t, "Node 22 in testdata/node (npm package node@22, needed by the Inspector)", err == nil)
	profile := writeProfile(t, grantRead(nm)+everythingProfile)
	server := filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
	cell := cellCommand(t, profile)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--cli"}, cell.Args...)
	node, _ := exec.LookPath("node") // the system node the node preset grants, not Node 22
	args = append(args, node, server, "stdio", "--method", "tools/list")
	cmd := exec.CommandContext(ctx, inspector, args...)
	cmd.Path = inspector
	cmd.Env = append(cell.Env, "PATH="+node22+string(os.PathListSeparator)+os.Getenv("PATH"))
	// The Inspector starts mcpcell with a few variables only (HOME, PATH,
	// …): mcpcell's state is then in HOME, and the trust is there.
	var bare []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, "XDG_") {
			bare = append(bare, kv)
		}
	}
	trustProfile(t, bare, profile, node, server, "stdio")
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("inspector: %v\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	s := string(out)
	if !strings.Contains(s, `"name": "echo"`) || strings.Contains(s, `"name": "get-env"`) || strings.Contains(s, "toggle-") {
		t.Errorf("inspector tools/list through mcpcell:\n%s", s)
	}
}

// TestServerFilesystemInCell starts server-filesystem with / as its allowed
// directory under a profile that grants only the project: the server
// agrees to read outside, and the cell refuses with EACCES (defence in
// depth, end to end).
func TestServerFilesystemInCell(t *testing.T) {
	nm := nodeModules(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("OUTSIDE"), 0o644)
	profile := writeProfile(t, grantRead(nm))
	project := filepath.Dir(profile)
	os.WriteFile(filepath.Join(project, "notes.txt"), []byte("INSIDE"), 0o644)
	ctx, sess, _ := connectSDK(t, cellCommand(t, profile, "node", filepath.Join(nm, "@modelcontextprotocol/server-filesystem/dist/index.js"), "/"), nil, "")
	read := func(path string) (string, bool) {
		res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "read_text_file", Arguments: map[string]any{"path": path}})
		if err != nil {
			return err.Error(), true
		}
		return textOf(res), res.IsError
	}
	if got, isErr := read(filepath.Join(project, "notes.txt")); isErr || got != "INSIDE" {
		t.Errorf("reading inside the project: %q (error %v)", got, isErr)
	}
	if got, isErr := read(filepath.Join(outside, "secret.txt")); !isErr || !strings.Contains(got, "EACCES") || strings.Contains(got, "OUTSIDE") {
		t.Errorf("reading outside the project: %q (error %v); want EACCES from the cell", got, isErr)
	}
}

// TestDefaultProfileRealServer runs server-everything with the embedded
// default profile and the project holding the server, as the README's
// quick start does.
func TestDefaultProfileRealServer(t *testing.T) {
	nm := nodeModules(t)
	state := t.TempDir()
	cmd := exec.Command(os.Args[0], "__mcpcell", "run", "--profile", "default", "--project", filepath.Dir(nm), "--", "node", filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js"), "stdio")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state, "XDG_CACHE_HOME="+state)
	ctx, sess, stderr := connectSDK(t, cmd, nil, "")
	res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "in the cell"}})
	if err != nil || !strings.Contains(textOf(res), "in the cell") {
		t.Fatalf("echo: %v %+v\nstderr:\n%s", err, res, stderr.String())
	}
	// get-env shows the server's whole environment: nothing of ours.
	res, err = sess.CallTool(ctx, &mcp.CallToolParams{Name: "get-env", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	env := textOf(res)
	for _, leak := range []string{"XDG_STATE_HOME", "GOPATH", "MCPCELL_REQUIRE_ALL", "DBUS_SESSION_BUS_ADDRESS"} {
		if strings.Contains(env, leak) {
			t.Errorf("the server sees %s:\n%s", leak, env)
		}
	}
	if !strings.Contains(env, "TMPDIR") {
		t.Errorf("no TMPDIR in the server's environment:\n%s", env)
	}
}
