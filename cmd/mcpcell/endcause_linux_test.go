package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The end record says who ended the session: a client that closed its
// input (and how the ladder then stopped the server: its own exit, or
// the SIGTERM that a server ignoring EOF needed, not a bare "status
// 143"), a server that exited on its own, or a signal to mcpcell.
func TestEndRecordCause(t *testing.T) {
	cases := []struct {
		name   string
		server func(t *testing.T) (profile string, command []string)
		end    func(s *session)
		rule   string
		note   string // the end record's note holds this
	}{
		{name: "real server, client closes", server: realEverything, end: func(s *session) { s.in.Close() },
			rule: "client-closed", note: "the client closed stdin; the server exited with status 0"},
		{name: "server ignores EOF", server: fake("--ignore-eof"), end: func(s *session) { s.in.Close() },
			rule: "client-closed", note: "the client closed stdin; the server was stopped (stdin closed, then SIGTERM after 1s); status 143"},
		{name: "server exits", server: fake(), end: func(s *session) {
			s.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"die","arguments":{}}}`)
			s.reply("5")
		}, rule: "server-exited", note: "the server exited with status 3"},
		{name: "signal", server: fake("--ignore-eof"), end: func(s *session) { s.cmd.Process.Signal(syscall.SIGTERM) },
			rule: "signal", note: "mcpcell got terminated; the server was stopped (SIGTERM); status 143"},
		{name: "real server, signal", server: realEverything, end: func(s *session) { s.cmd.Process.Signal(syscall.SIGTERM) },
			rule: "signal", note: "mcpcell got terminated; the server "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			profile, command := tc.server(t)
			s := startSession(t, cellCommand(t, profile, command...))
			s.call(0, "initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}`)
			tc.end(s)
			s.exited(15 * time.Second)
			end := endRecord(auditRecords(t, profile))
			if end == nil || end.Rule != tc.rule || !strings.Contains(end.Note, tc.note) {
				t.Fatalf("end record %+v, want rule %q, note holding %q", end, tc.rule, tc.note)
			}
			t.Logf("end %s (%s)", end.Rule, end.Note)
		})
	}
}

func realEverything(t *testing.T) (string, []string) {
	nm := nodeModules(t)
	return writeProfile(t, grantRead(nm)+everythingProfile), []string{"node", filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js"), "stdio"}
}

func fake(args ...string) func(t *testing.T) (string, []string) {
	return func(t *testing.T) (string, []string) {
		return writeProfile(t, ""), append([]string{os.Args[0], "__fakeserver"}, args...)
	}
}

// A client whose reading side went first (it closed mcpcell's stdout,
// then its stdin) is recorded as such: the end record says writing to it
// failed, besides the close of its input.
func TestEndRecordClientGone(t *testing.T) {
	path := writeProfile(t, "")
	cmd := cellCommand(t, path, os.Args[0], "__fakeserver")
	in, out, _, exited := rawStart(t, cmd)
	rawCall(t, in, bufio.NewReader(out), 0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	out.Close()
	// Its answer meets the closed pipe.
	fmt.Fprintf(in, `{"jsonrpc":"2.0","id":1,"method":"ping"}`+"\n")
	time.Sleep(200 * time.Millisecond)
	in.Close()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("mcpcell still runs 10s after the client went")
	}
	end := endRecord(auditRecords(t, path))
	if end == nil || end.Rule != "client-closed" || !strings.Contains(end.Note, "the client's side was gone before (writing to it: write /dev/stdout: broken pipe)") {
		t.Fatalf("end record %+v, want the broken output named", end)
	}
	t.Logf("end %s (%s)", end.Rule, end.Note)
}

// exited waits up to d for mcpcell to exit once the session has ended.
func (s *session) exited(d time.Duration) {
	s.t.Helper()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		s.t.Fatalf("mcpcell still runs %v after the session's end", d)
	}
}
