package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A server whose code the cell cannot read (the real server-everything,
// its dist outside the project, reached by a link in the project) exits
// before answering with only Node's EACCES to show: run names the file,
// the real path, and the grant that fixes it, on stderr and in the end
// record. A grant of the package alone (as wrap writes one) leaves the
// packages it imports unreadable: those are named. With the grant named
// (the control) the same command starts.
func TestUnreadableServerCode(t *testing.T) {
	nm := nodeModules(t)
	dist := filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
	for _, tc := range []struct{ name, text, what string }{
		{"not granted", "", "server.js (" + dist + ")"},
		{"package alone", grantRead(filepath.Join(nm, "@modelcontextprotocol/server-everything")), "the packages in " + nm + " that server.js (" + dist + ") imports"},
		{"granted", grantRead(nm), ""},
	} {
		granted, text := tc.what == "", tc.text
		t.Run(tc.name, func(t *testing.T) {
			profile := writeProfile(t, text)
			link := filepath.Join(filepath.Dir(profile), "server.js")
			if err := os.Symlink(dist, link); err != nil {
				t.Fatal(err)
			}
			s := startSession(t, cellCommand(t, profile, "node", "server.js", "stdio"))
			s.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
			m := s.reply("0")
			if granted {
				if _, ok := m["result"]; !ok {
					t.Fatalf("initialize with the grant: %v", m)
				}
				return
			}
			if _, msg := errorOf(m); !strings.Contains(msg, "exited before answering") {
				t.Fatalf("initialize: %v", m)
			}
			s.exited(15 * time.Second)
			want := "mcpcell: error: the server exited (status 1) before answering; it may not read " + tc.what + ": no grant covers it"
			hint := "mcpcell: hint: add \"" + nm + "\" to [filesystem] read in " + profile
			if out := s.stderr.String(); !strings.Contains(out, want+"\n") || !strings.Contains(out, hint) {
				t.Errorf("stderr lacks\n%s\n%s\ngot:\n%s", want, hint, out)
			}
			end := endRecord(auditRecords(t, profile))
			if end == nil || end.Rule != "server-exited" || !strings.Contains(end.Note, "it may not read "+tc.what) || !strings.Contains(end.Note, nm) {
				t.Errorf("end record %+v, want the file and the grant named", end)
			}
		})
	}
}

// The same server, its client gone at once (input from a file, as a user
// pipes one in): the explanation comes whoever ended the session first.
func TestUnreadableServerCodeClientGone(t *testing.T) {
	nm := nodeModules(t)
	dist := filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js")
	profile := writeProfile(t, "")
	cmd := cellCommand(t, profile, "node", dist, "stdio")
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}` + "\n")
	out, err := cmd.CombinedOutput()
	want := "mcpcell: error: the server exited (status 1) before answering; it may not read " + dist + ": no grant covers it\n"
	if err == nil || !strings.Contains(string(out), want) {
		t.Fatalf("run: %v, want %q in:\n%s", err, want, out)
	}
	if end := endRecord(auditRecords(t, profile)); end == nil || !strings.Contains(end.Note, "it may not read "+dist) {
		t.Errorf("end record %+v, want the file named", end)
	}
}
