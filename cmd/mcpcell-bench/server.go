package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// serve is the benchmark's MCP server: as little work per call as a
// server can do, so that what is measured is the path, not the server.
// Tools: echo (a short text) and blob (a text result of arguments.size
// bytes of frame).
func serve() int {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	blobs := map[int][]byte{}
	blob := func(size int) []byte {
		if b, ok := blobs[size]; ok {
			return b
		}
		const wrap = len(`{"content":[{"type":"text","text":""}]}`) + len(`{"jsonrpc":"2.0","id":,"result":}`) + 12
		n := max(size-wrap, 1)
		b := []byte(`{"content":[{"type":"text","text":"` + strings.Repeat("x", n) + `"}]}`)
		blobs[size] = b
		return b
	}
	reply := func(id json.RawMessage, result []byte) {
		out.WriteString(`{"jsonrpc":"2.0","id":`)
		out.Write(id)
		out.WriteString(`,"result":`)
		out.Write(result)
		out.WriteString("}\n")
	}
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			var m struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
				Params struct {
					ProtocolVersion string `json:"protocolVersion"`
					Name            string `json:"name"`
					Arguments       struct {
						Size int `json:"size"`
					} `json:"arguments"`
				} `json:"params"`
			}
			if json.Unmarshal(line, &m) == nil && m.ID != nil {
				switch m.Method {
				case "initialize":
					v := m.Params.ProtocolVersion
					if v == "" {
						v = "2025-11-25"
					}
					reply(m.ID, []byte(`{"protocolVersion":`+strconv.Quote(v)+`,"capabilities":{"tools":{}},"serverInfo":{"name":"bench","version":"1"}}`))
				case "tools/list":
					reply(m.ID, []byte(`{"tools":[{"name":"echo","inputSchema":{"type":"object"}},{"name":"blob","inputSchema":{"type":"object"}}]}`))
				case "tools/call":
					if m.Params.Name == "blob" {
						reply(m.ID, blob(m.Params.Arguments.Size))
					} else {
						reply(m.ID, []byte(`{"content":[{"type":"text","text":"ok"}]}`))
					}
				default:
					reply(m.ID, []byte(`{}`))
				}
				if in.Buffered() == 0 {
					out.Flush()
				}
			}
		}
		if err != nil {
			out.Flush()
			return 0
		}
	}
}

// relay runs argv with its stdin and stdout copied through this process,
// both ways, and nothing else: what any relay written in Go costs, policy
// and audit log aside.
func relay(argv []string) int {
	if len(argv) == 0 {
		return 2
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	in, err1 := cmd.StdinPipe()
	out, err2 := cmd.StdoutPipe()
	if err1 != nil || err2 != nil || cmd.Start() != nil {
		return 1
	}
	go func() {
		io.Copy(in, os.Stdin)
		in.Close()
	}()
	io.Copy(os.Stdout, out)
	cmd.Wait()
	return 0
}
