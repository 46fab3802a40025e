package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// serve is the benchmark's MCP server: as little work per call as a
// server can do, so that what is measured is the path, not the server.
// Tools: echo (a short text), blob (a text result of arguments.size
// bytes of frame) and fetch (downloads arguments.url, see fetch).
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
						Size  int    `json:"size"`
						URL   string `json:"url"`
						Proxy bool   `json:"proxy"`
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
					reply(m.ID, []byte(`{"tools":[{"name":"echo","inputSchema":{"type":"object"}},{"name":"blob","inputSchema":{"type":"object"}},{"name":"fetch","inputSchema":{"type":"object"}}]}`))
				case "tools/call":
					switch a := m.Params.Arguments; m.Params.Name {
					case "blob":
						reply(m.ID, blob(a.Size))
					case "fetch":
						if n, err := fetch(a.URL, a.Proxy); err != nil {
							out.WriteString(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"error":{"code":-32000,"message":` + strconv.Quote(err.Error()) + `}}` + "\n")
						} else if n != int64(a.Size) {
							out.WriteString(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"error":{"code":-32000,"message":"fetched ` + strconv.FormatInt(n, 10) + ` bytes, want ` + strconv.Itoa(a.Size) + `"}}` + "\n")
						} else {
							reply(m.ID, []byte(`{"content":[{"type":"text","text":"`+strconv.FormatInt(n, 10)+` bytes"}]}`))
						}
					default:
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

// fetch downloads rawURL with Go's client and counts the bytes. Go never
// sends a loopback URL to a proxy, so in a cell with [network] hosts a
// fetch of http://localhost:PORT goes the transparent way; with
// viaProxy it goes to the proxy HTTP_PROXY names (an error when none
// does, so that no "through the proxy" figure is a direct one).
func fetch(rawURL string, viaProxy bool) (int64, error) {
	tr := &http.Transport{DisableCompression: true}
	if viaProxy {
		p := os.Getenv("HTTP_PROXY")
		if p == "" {
			return 0, fmt.Errorf("fetch through the proxy: HTTP_PROXY is not set")
		}
		u, err := url.Parse(p)
		if err != nil {
			return 0, fmt.Errorf("fetch through the proxy: HTTP_PROXY: %w", err)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(rawURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("fetch %s: %s", rawURL, resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
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
