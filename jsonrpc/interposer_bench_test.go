package jsonrpc_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/profiles"
)

// BenchmarkInterposer is one call through the whole frame path of a
// session, the way mcpcell run has it: real pipes, the policy of a
// profile that includes the default, and the audit log; 64 calls in
// flight, answered by a server goroutine. Per op: one call, its request
// and its response.
func BenchmarkInterposer(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "p.toml")
	os.WriteFile(path, []byte("include = [\"default\"]\n"), 0o600)
	p, err := profiles.Load(profiles.Options{Profile: path, Cwd: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	pol, err := profiles.Compile(p)
	if err != nil {
		b.Fatal(err)
	}
	log, err := audit.Open(filepath.Join(dir, "audit.jsonl"), audit.Meta{Session: "s", Profile: "p", Client: pol.ClientName})
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	pipe := func() (*os.File, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		return r, w
	}
	clientR, clientW := pipe() // client -> cell
	outR, outW := pipe()       // cell -> client
	srvInR, srvInW := pipe()   // cell -> server
	srvOutR, srvOutW := pipe() // server -> cell
	// The server answers each request with an empty result.
	go func() {
		in := bufio.NewReader(srvInR)
		out := bufio.NewWriter(srvOutW)
		for {
			line, err := in.ReadSlice('\n')
			if err != nil {
				srvOutW.Close()
				return
			}
			m, err := jsonrpc.Parse(line[:len(line)-1])
			if err == nil && m.Kind == jsonrpc.Request {
				out.Write(jsonrpc.ResultResponse(m.ID, []byte(`{}`)))
				out.WriteByte('\n')
			}
			if in.Buffered() == 0 {
				out.Flush()
			}
		}
	}()
	ip := &jsonrpc.Interposer{Policy: pol, Recorder: log}
	done := make(chan error, 1)
	go func() { done <- ip.NewSession().Run(clientR, outW, srvInW, srvOutR) }()

	in := bufio.NewWriter(clientW)
	out := bufio.NewReader(outR)
	id := 0
	send := func(method, params string) {
		id++
		fmt.Fprintf(in, `{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`+"\n", id, method, params)
	}
	recv := func() {
		if _, err := out.ReadSlice('\n'); err != nil {
			b.Fatal(err)
		}
	}
	send("initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}`)
	in.Flush()
	recv()
	in.WriteString(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")
	// The calls: a small tools/call each, 64 in flight.
	call := func() { send("tools/call", `{"name":"echo","arguments":{"message":"hi `+strconv.Itoa(id)+`"}}`) }
	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	for ; sent < 64 && sent < b.N; sent++ {
		call()
	}
	in.Flush()
	for got := 0; got < b.N; got++ {
		recv()
		if sent < b.N {
			call()
			sent++
			in.Flush()
		}
	}
	b.StopTimer()
	clientW.Close()
	<-done
}
